"""Pipeline updates on Spark Declarative Pipelines (pyspark.pipelines) over Spark Connect."""
