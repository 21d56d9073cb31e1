"""The persistent store: ORM models, engines and sessions, migrations, tenant records."""
