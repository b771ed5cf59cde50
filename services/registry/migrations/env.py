from services.common.migration_env import run
from services.registry.models import Base

run(Base.metadata)
