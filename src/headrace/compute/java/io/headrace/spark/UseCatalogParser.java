package io.headrace.spark;

import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.apache.spark.sql.catalyst.FunctionIdentifier;
import org.apache.spark.sql.catalyst.TableIdentifier;
import org.apache.spark.sql.catalyst.expressions.Expression;
import org.apache.spark.sql.catalyst.parser.ParameterContext;
import org.apache.spark.sql.catalyst.parser.ParseException;
import org.apache.spark.sql.catalyst.parser.ParserInterface;
import org.apache.spark.sql.catalyst.parser.SqlStatementSplitResult;
import org.apache.spark.sql.catalyst.parser.TemporalIdentifier;
import org.apache.spark.sql.catalyst.plans.logical.LogicalPlan;
import org.apache.spark.sql.types.DataType;
import org.apache.spark.sql.types.StructType;

/**
 * Spark's SQL parser plus Databricks' {@code USE CATALOG name} (Spark spells it
 * {@code SET CATALOG 'name'}); everything else goes to Spark's parser unchanged.
 */
public final class UseCatalogParser implements ParserInterface {
  private static final Pattern USE_CATALOG =
      Pattern.compile(
          "^\\s*USE\\s+CATALOG\\s+`?([A-Za-z0-9_]+)`?\\s*;?\\s*$", Pattern.CASE_INSENSITIVE);
  private final ParserInterface delegate;

  public UseCatalogParser(ParserInterface delegate) {
    this.delegate = delegate;
  }

  static String rewrite(String sql) {
    Matcher m = USE_CATALOG.matcher(sql);
    return m.matches() ? "SET CATALOG '" + m.group(1) + "'" : sql;
  }

  @Override
  public LogicalPlan parsePlan(String sql) throws ParseException {
    return delegate.parsePlan(rewrite(sql));
  }

  @Override
  public LogicalPlan parsePlanWithParameters(String sql, ParameterContext params)
      throws ParseException {
    return delegate.parsePlanWithParameters(rewrite(sql), params);
  }

  @Override
  public Expression parseExpression(String sql) throws ParseException {
    return delegate.parseExpression(sql);
  }

  @Override
  public TableIdentifier parseTableIdentifier(String sql) throws ParseException {
    return delegate.parseTableIdentifier(sql);
  }

  @Override
  public FunctionIdentifier parseFunctionIdentifier(String sql) throws ParseException {
    return delegate.parseFunctionIdentifier(sql);
  }

  @Override
  public scala.collection.immutable.Seq<String> parseMultipartIdentifier(String sql)
      throws ParseException {
    return delegate.parseMultipartIdentifier(sql);
  }

  @Override
  public TemporalIdentifier parseTemporalTableIdentifier(String sql) throws ParseException {
    return delegate.parseTemporalTableIdentifier(sql);
  }

  @Override
  public LogicalPlan parseQuery(String sql) throws ParseException {
    return delegate.parseQuery(sql);
  }

  @Override
  public StructType parseRoutineParam(String sql) throws ParseException {
    return delegate.parseRoutineParam(sql);
  }

  @Override
  public SqlStatementSplitResult splitStatements(String sql) {
    return delegate.splitStatements(sql);
  }

  @Override
  public StructType parseTableSchema(String sql) throws ParseException {
    return delegate.parseTableSchema(sql);
  }

  @Override
  public DataType parseDataType(String sql) throws ParseException {
    return delegate.parseDataType(sql);
  }
}
