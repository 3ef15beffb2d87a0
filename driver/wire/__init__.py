"""CloudStack agent JSON (Gson's shapes) <-> Python objects. No logic lives here."""
