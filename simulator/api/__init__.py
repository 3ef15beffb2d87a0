"""``/client/api``: authentication, the command registry, parameters, rendering, errors."""
