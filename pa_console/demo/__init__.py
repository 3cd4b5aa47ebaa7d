"""The demo lab (`pa-console --demo`): two real agents on loopback, a mail sink, seeded data. Qt-free."""
