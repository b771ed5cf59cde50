from services.common.migration_env import run
from services.inspection.models import Base

run(Base.metadata)
