package io.headrace.spark;

import java.io.IOException;
import java.net.URI;
import org.apache.hadoop.conf.Configuration;
import org.apache.hadoop.fs.viewfs.ViewFileSystemOverloadScheme;

/**
 * The {@code dbfs:} scheme: Hadoop's mount-table file system over the mount table named
 * {@code headrace-dbfs} (its fallback is the data directory's {@code dbfs/} folder). The plain
 * overload scheme would read the {@code default} mount table for {@code dbfs:/x} (no authority),
 * which the {@code file:} scheme already uses for {@code /Volumes}.
 */
public final class DbfsFileSystem extends ViewFileSystemOverloadScheme {
  public DbfsFileSystem() throws IOException {
    super();
  }

  @Override
  public void initialize(URI uri, Configuration conf) throws IOException {
    Configuration own = new Configuration(conf);
    own.set("fs.viewfs.mounttable.default.name.key", "headrace-dbfs");
    super.initialize(uri, own);
  }
}
