from services.common.migration_env import run
from services.escrow.models import Base

run(Base.metadata)
