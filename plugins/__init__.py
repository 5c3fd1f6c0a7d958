"""Built-in channel plugins, each registered through the ``dispatcher`` entry-point group
exactly like a third-party plugin."""
