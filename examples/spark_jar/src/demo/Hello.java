package demo;

import org.apache.spark.sql.SparkSession;

/**
 * A Spark application: counts a range on the session of the cluster it runs in. As on Databricks,
 * it does not stop the session: the cluster's driver runs it and keeps running after it.
 */
public class Hello {
  public static void main(String[] args) throws Exception {
    SparkSession spark = SparkSession.builder().getOrCreate();
    long n = spark.range(5).count();
    System.out.println("hello from the jar " + String.join(",", args) + " count=" + n);
  }
}
