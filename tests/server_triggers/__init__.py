"""End-to-end tests of schedules and triggers inside a real `headrace server`."""
