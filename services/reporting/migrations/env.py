from services.common.migration_env import run
from services.reporting.models import Base

run(Base.metadata)
