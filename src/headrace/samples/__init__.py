"""SYNTHETIC stand-ins for Databricks' sample data (`headrace samples install`): docs/samples.md."""
