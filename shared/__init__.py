"""The contract both stages import (stdlib only): request keys, configuration, errors."""
