package io.headrace.spark;

import java.io.FileNotFoundException;
import java.io.IOException;
import java.net.URI;
import org.apache.hadoop.conf.Configuration;
import org.apache.hadoop.fs.FSDataInputStream;
import org.apache.hadoop.fs.FSDataOutputStream;
import org.apache.hadoop.fs.FileStatus;
import org.apache.hadoop.fs.FileSystem;
import org.apache.hadoop.fs.LocalFileSystem;
import org.apache.hadoop.fs.Path;
import org.apache.hadoop.fs.permission.FsPermission;
import org.apache.hadoop.util.Progressable;

/**
 * The {@code dbfs:} scheme for Spark: {@code dbfs:/a/b} is {@code <home>/dbfs/a/b} on the local
 * disk (the folder the DBFS and Files APIs serve).
 *
 * <p>Only the abstract operations of {@link FileSystem} are implemented (everything else, such
 * as globbing, {@code openFile} and located listings, is the base class built on them), each by
 * moving the path under the root, calling the local file system, and moving the paths of what
 * comes back out of the root again: a status says {@code dbfs:/a/b}, never the local folder, so
 * a committer that renames what it listed stays inside the root. Settings: {@code fs.dbfs.impl}
 * is this class, {@code fs.dbfs.headrace.root} the local folder.
 */
public class DbfsFileSystem extends FileSystem {
  public static final String ROOT_KEY = "fs.dbfs.headrace.root";
  private static final URI URI_ROOT = URI.create("dbfs:///");

  private LocalFileSystem local;
  private String root; // the local folder, no trailing slash
  private Path workingDir = new Path("dbfs:/");

  @Override
  public void initialize(URI name, Configuration conf) throws IOException {
    super.initialize(name, conf);
    setConf(conf);
    String configured = conf.get(ROOT_KEY);
    if (configured == null || configured.isEmpty()) {
      throw new IOException(ROOT_KEY + " is not set: Headrace sets it to <home>/dbfs");
    }
    root = configured.endsWith("/") ? configured.substring(0, configured.length() - 1) : configured;
    local = new LocalFileSystem();
    local.initialize(URI.create("file:///"), conf);
  }

  @Override
  public String getScheme() {
    return "dbfs";
  }

  @Override
  public URI getUri() {
    return URI_ROOT;
  }

  /** {@code dbfs:/a/b} (or {@code /a/b}, or relative to the working folder) on the local disk. */
  private Path inside(Path path) {
    Path absolute = path.isAbsolute() ? path : new Path(workingDir, path);
    String p = absolute.toUri().getPath();
    if (p.contains("/../") || p.endsWith("/..")) {
      throw new IllegalArgumentException("dbfs path leaves DBFS: " + path);
    }
    return new Path("file", null, root + (p.startsWith("/") ? p : "/" + p));
  }

  /** A local path under the root as {@code dbfs:/...}. */
  private Path outside(Path path) {
    String p = path.toUri().getPath();
    if (p.equals(root)) {
      return new Path("dbfs:/");
    }
    if (p.startsWith(root + "/")) {
      return new Path("dbfs", null, p.substring(root.length()));
    }
    return path;
  }

  private FileStatus moved(FileStatus status) {
    status.setPath(outside(status.getPath()));
    return status;
  }

  @Override
  public FSDataInputStream open(Path f, int bufferSize) throws IOException {
    return local.open(inside(f), bufferSize);
  }

  @Override
  public FSDataOutputStream create(
      Path f,
      FsPermission permission,
      boolean overwrite,
      int bufferSize,
      short replication,
      long blockSize,
      Progressable progress)
      throws IOException {
    return local.create(
        inside(f), permission, overwrite, bufferSize, replication, blockSize, progress);
  }

  @Override
  public FSDataOutputStream append(Path f, int bufferSize, Progressable progress)
      throws IOException {
    return local.append(inside(f), bufferSize, progress);
  }

  @Override
  public boolean rename(Path src, Path dst) throws IOException {
    return local.rename(inside(src), inside(dst));
  }

  @Override
  public boolean delete(Path f, boolean recursive) throws IOException {
    return local.delete(inside(f), recursive);
  }

  @Override
  public FileStatus[] listStatus(Path f) throws FileNotFoundException, IOException {
    FileStatus[] found = local.listStatus(inside(f));
    for (FileStatus status : found) {
      moved(status);
    }
    return found;
  }

  @Override
  public void setWorkingDirectory(Path dir) {
    workingDir = dir.isAbsolute() ? dir : new Path(workingDir, dir);
  }

  @Override
  public Path getWorkingDirectory() {
    return workingDir;
  }

  @Override
  public boolean mkdirs(Path f, FsPermission permission) throws IOException {
    return local.mkdirs(inside(f), permission);
  }

  @Override
  public FileStatus getFileStatus(Path f) throws IOException {
    return moved(local.getFileStatus(inside(f)));
  }

  @Override
  public void close() throws IOException {
    try {
      if (local != null) {
        local.close();
      }
    } finally {
      super.close();
    }
  }
}
