"""HTTP surface: blueprints for commands, views, health, metrics; auth and errors."""
