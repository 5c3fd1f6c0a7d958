"""What admins and compliance officers run beside the daemon: ``simulate`` (and its report),
``explain``, ``audit export``. None of it sends anything."""
