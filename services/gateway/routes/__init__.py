"""The gateway's JSON routes, one module per context; GatewayService inherits them all."""
