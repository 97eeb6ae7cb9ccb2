package demo;

import org.apache.spark.sql.SparkSession;

/** A Spark application: counts a range and saves it as a table of the shared catalog. */
public class Hello {
  public static void main(String[] args) throws Exception {
    SparkSession spark = SparkSession.builder().getOrCreate();
    long n = spark.range(5).count();
    System.out.println("hello from the jar " + String.join(",", args) + " count=" + n);
    spark.stop();
  }
}
