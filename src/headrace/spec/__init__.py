"""What a job is: settings models, loaders, DAG checks, references and Quartz cron.

Empty on purpose: import the submodule you need (`headrace.spec.models`, `.loader`, ...).
"""
