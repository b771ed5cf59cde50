from services.common.migration_env import run
from services.gateway.models import Base

run(Base.metadata)
