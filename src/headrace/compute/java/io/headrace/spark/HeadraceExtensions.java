package io.headrace.spark;

import org.apache.spark.sql.SparkSessionExtensions;
import scala.Function1;
import scala.runtime.BoxedUnit;

/** {@code spark.sql.extensions=io.headrace.spark.HeadraceExtensions}: the USE CATALOG parser. */
public final class HeadraceExtensions implements Function1<SparkSessionExtensions, BoxedUnit> {
  @Override
  public BoxedUnit apply(SparkSessionExtensions extensions) {
    extensions.injectParser((session, parser) -> new UseCatalogParser(parser));
    return BoxedUnit.UNIT;
  }
}
