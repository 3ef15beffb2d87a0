"""The snapshot domain: model, state machine, tree rules and errors. Pure Python."""
