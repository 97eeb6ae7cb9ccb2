package io.headrace.spark;

import org.apache.spark.sql.connector.catalog.DelegatingCatalogExtension;
import org.apache.spark.sql.util.CaseInsensitiveStringMap;

/**
 * A catalog name (Unity Catalog's {@code main}) for Spark's session catalog, so that
 * {@code main.schema.table} and {@code USE CATALOG main} reach the tables of the shared Hive
 * metastore. It reports the session catalog's name, so Spark plans its tables exactly as
 * {@code spark_catalog} ones (Parquet/CSV tables keep their V1 read and write paths).
 */
public final class SessionCatalogAlias extends DelegatingCatalogExtension {
  @Override
  public void initialize(String name, CaseInsensitiveStringMap options) {
    setDelegateCatalog(
        org.apache.spark.sql.classic.SparkSession.active()
            .sessionState()
            .catalogManager()
            .v2SessionCatalog());
  }

  @Override
  public String name() {
    return "spark_catalog";
  }
}
