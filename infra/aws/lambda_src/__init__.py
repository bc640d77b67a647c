"""Lambda handlers of the AWS deployment that are not a stage of the request path. They run
from regional_resizer.zip, into which ``imgedge package`` puts each with the project modules
it imports (``infra/package.py``, ``module_closure``); they import no CDK."""
