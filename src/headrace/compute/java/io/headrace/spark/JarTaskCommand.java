package io.headrace.spark;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.io.ByteArrayOutputStream;
import java.io.FileOutputStream;
import java.io.PrintStream;
import java.lang.reflect.InvocationTargetException;
import java.lang.reflect.Method;
import java.lang.reflect.Modifier;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.Paths;
import java.util.ArrayList;
import java.util.List;
import org.apache.spark.scheduler.LiveListenerBus;
import org.apache.spark.sql.artifact.ArtifactManager;
import org.apache.spark.sql.classic.SparkSession;
import org.apache.spark.sql.connect.planner.SparkConnectPlanner;
import org.apache.spark.sql.connect.plugin.CommandPlugin;
import scala.Console$;
import scala.Option;

/**
 * A spark_jar_task in the cluster's own driver, as Databricks runs one: a Spark Connect command
 * ({@code spark.connect.extensions.command.classes}) sent by Headrace's task process
 * ({@code headrace.worker.jar_driver}) with the task's main class, parameters, local jar paths
 * and two files: the task's output and its result.
 *
 * <p>The jars join the Connect session's artifacts (Spark's per-session class loader: each task
 * process is its own session, so classes never leak between tasks, and the session's jobs ship
 * them to executors); {@code main(String[])} runs on this execution thread with that loader as
 * context loader and the session active, so {@code SparkSession.builder().getOrCreate()} returns
 * it. {@code System.out}/{@code err} (and Scala's {@code Console}) of this thread and the threads
 * it starts go to the output file; other threads' output stays in the driver log.
 * {@code spark.stop()} is refused for this thread (the cluster's SparkContext is shared); when it
 * is what ends main, the task succeeds with a note. A Connect interrupt (the task process on
 * cancel or timeout) or the death of the task process interrupts the thread.
 */
public final class JarTaskCommand implements CommandPlugin {
  static final String TYPE_URL = "type.googleapis.com/headrace.JarTask";
  static final String STOP_REFUSED = "Cannot stop SparkContext within listener bus thread";
  private static final ObjectMapper JSON = new ObjectMapper();

  @Override
  public boolean process(byte[] command, SparkConnectPlanner planner) {
    byte[][] any = Protobuf.any(command);
    if (any == null || !TYPE_URL.equals(new String(any[0], StandardCharsets.UTF_8))) {
      return false;
    }
    try {
      JsonNode task = JSON.readTree(any[1]);
      Path resultFile = Paths.get(task.get("result").asText());
      ObjectNode result = run(task, planner.session());
      Files.write(resultFile, JSON.writeValueAsBytes(result));
    } catch (java.io.IOException e) {
      throw new IllegalStateException("headrace jar task: " + e, e);
    }
    return true;
  }

  private static ObjectNode run(JsonNode task, SparkSession session) throws java.io.IOException {
    ObjectNode result = JSON.createObjectNode();
    try (PrintStream out =
        new PrintStream(new FileOutputStream(task.get("output").asText(), true), true, "UTF-8")) {
      ThreadOutput.install();
      Thread thread = Thread.currentThread();
      ClassLoader previous = thread.getContextClassLoader();
      Watchdog watchdog = new Watchdog(task.path("owner_pid").asLong(0), thread);
      ThreadOutput.Route route = ThreadOutput.route(out);
      try {
        ClassLoader loader = addJars(session, task.get("jars"));
        thread.setContextClassLoader(loader);
        watchdog.start();
        String error = invokeMain(session, loader, task, out);
        if (error != null) {
          result.put("error", error);
        }
      } finally {
        watchdog.finish();
        route.end(); // before `out` closes: late writers of the task go to the driver's streams
        thread.setContextClassLoader(previous);
        Thread.interrupted(); // a late interrupt must not reach the next command on this thread
      }
      if (watchdog.fired) {
        result.put("error", "the task process ended (cancelled); main was interrupted");
      }
    }
    return result;
  }

  /** The task's jars as session artifacts; the session's class loader that sees them. */
  private static ClassLoader addJars(SparkSession session, JsonNode jars) {
    ArtifactManager artifacts = session.artifactManager();
    int index = 0;
    for (JsonNode jar : jars) {
      Path local = Paths.get(jar.asText());
      // Prefixed by position: two jars of one name from different folders stay apart.
      Path name = Paths.get("jars", (index++) + "-" + local.getFileName());
      artifacts.addArtifact(name, local, Option.empty(), false);
    }
    return artifacts.classloader();
  }

  /** Runs main; null when it returned, else the task's error (the exception's class: message). */
  private static String invokeMain(
      SparkSession session, ClassLoader loader, JsonNode task, PrintStream out) {
    String className = task.get("main_class").asText();
    Method main;
    try {
      Class<?> cls = Class.forName(className, true, loader);
      main = cls.getMethod("main", String[].class);
    } catch (ClassNotFoundException | NoClassDefFoundError e) {
      return "Failed to load class " + className + ".";
    } catch (NoSuchMethodException e) {
      return "Failed to load main method of " + className + ": no main(String[])";
    }
    if (!Modifier.isStatic(main.getModifiers())) {
      return "The main method in the given main class must be static: " + className;
    }
    List<String> args = new ArrayList<>();
    task.get("parameters").forEach(p -> args.add(p.asText()));
    Object[] argv = {args.toArray(new String[0])};
    SparkSession.setActiveSession(session);
    try {
      // spark.stop() of this thread (and its children) throws instead of stopping the
      // cluster's SparkContext; Scala's println goes where System.out does.
      LiveListenerBus.withinListenerThread()
          .withValue(
              Boolean.TRUE,
              () ->
                  Console$.MODULE$.withOut(
                      out,
                      () ->
                          Console$.MODULE$.withErr(
                              out,
                              () -> {
                                try {
                                  return main.invoke(null, argv);
                                } catch (IllegalAccessException e) {
                                  throw new IllegalStateException(e);
                                } catch (InvocationTargetException e) {
                                  throw new MainFailed(e.getCause());
                                }
                              })));
      return null;
    } catch (MainFailed failed) {
      Throwable cause = failed.getCause();
      if (String.valueOf(cause.getMessage()).startsWith(STOP_REFUSED)) {
        out.println(
            "[headrace] main called spark.stop(): refused, the cluster's SparkContext is shared "
                + "(as on Databricks, do not stop it); main ended there");
        return null;
      }
      // Main's own frames: what called it (reflection, this command, Spark Connect) is noise.
      StackTraceElement[] frames = cause.getStackTrace();
      int keep = 0;
      while (keep < frames.length && !frames[keep].getClassName().startsWith("jdk.internal.")) {
        keep++;
      }
      if (keep > 0) {
        cause.setStackTrace(java.util.Arrays.copyOf(frames, keep));
      }
      cause.printStackTrace(out);
      return cause.getClass().getName() + ": " + cause.getMessage();
    } finally {
      SparkSession.clearActiveSession();
    }
  }

  /** Carries the exception main threw through Scala's function wrappers. */
  private static final class MainFailed extends RuntimeException {
    MainFailed(Throwable cause) {
      super(cause);
    }
  }

  /** Interrupts main when the task process that sent the command is gone (SIGKILL). */
  private static final class Watchdog extends Thread {
    private final long pid;
    private final Thread target;
    private volatile boolean done;
    volatile boolean fired;

    Watchdog(long pid, Thread target) {
      super("headrace-jar-task-watchdog");
      setDaemon(true);
      this.pid = pid;
      this.target = target;
    }

    @Override
    public void run() {
      if (pid <= 0) {
        return;
      }
      while (!done) {
        boolean alive = ProcessHandle.of(pid).map(ProcessHandle::isAlive).orElse(false);
        if (!alive && !done) {
          fired = true;
          target.interrupt();
          return;
        }
        try {
          Thread.sleep(500);
        } catch (InterruptedException e) {
          return;
        }
      }
    }

    void finish() {
      done = true;
      interrupt();
    }
  }

  /** Just enough protobuf to read a {@code google.protobuf.Any}: type_url (1) and value (2). */
  static final class Protobuf {
    static byte[][] any(byte[] data) {
      byte[][] fields = new byte[2][];
      int[] pos = {0};
      while (pos[0] < data.length) {
        long tag = varint(data, pos);
        int number = (int) (tag >>> 3);
        int wire = (int) (tag & 7);
        if (wire != 2) {
          return null;
        }
        int length = (int) varint(data, pos);
        if (number == 1 || number == 2) {
          ByteArrayOutputStream field = new ByteArrayOutputStream();
          field.write(data, pos[0], length);
          fields[number - 1] = field.toByteArray();
        }
        pos[0] += length;
      }
      return fields[0] == null || fields[1] == null ? null : fields;
    }

    private static long varint(byte[] data, int[] pos) {
      long value = 0;
      for (int shift = 0; shift < 64; shift += 7) {
        byte b = data[pos[0]++];
        value |= (long) (b & 0x7f) << shift;
        if ((b & 0x80) == 0) {
          return value;
        }
      }
      throw new IllegalArgumentException("bad varint");
    }
  }
}
