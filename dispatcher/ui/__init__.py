"""The operator console, served by the daemon under ``/ui/``: the overview, a case, the
policy in force and a simulation, behind the API's bearer tokens (docs/console.md)."""
