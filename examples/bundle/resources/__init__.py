"""The bundle's Python-defined jobs (databricks-bundles, as on Databricks)."""

from databricks.bundles.core import Bundle, Resources, Variable, variables
from databricks.bundles.jobs import Job, JobParameterDefinition, SparkPythonTask, Task


@variables
class Vars:
    region: Variable[str]


def load_resources(bundle: Bundle) -> Resources:
    resources = Resources()
    region = bundle.resolve_variable(Vars.region)
    resources.add_job(
        "retail_report",
        Job(
            name=f"retail-report-{region}",
            parameters=[JobParameterDefinition(name="top", default="3")],
            tasks=[
                Task(
                    task_key="top_products",
                    spark_python_task=SparkPythonTask(
                        python_file="src/top_products.py",
                        parameters=[region, "{{job.parameters.top}}"],
                    ),
                )
            ],
        ),
    )
    return resources
