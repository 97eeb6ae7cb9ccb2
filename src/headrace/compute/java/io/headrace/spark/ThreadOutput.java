package io.headrace.spark;

import java.io.OutputStream;
import java.io.PrintStream;

/**
 * {@code System.out} and {@code System.err} of the driver, routed per thread: a JAR task's thread
 * (and every thread it starts: the route is inherited) writes to its task's output, all other
 * threads to the driver's own streams. Installed once, on the first JAR task.
 *
 * <p>A thread first created during a task (a user's pool, a thread Spark creates lazily) keeps
 * the task's route after the task ended; the route is a per-task token that the task ends, and
 * every write checks it: once the task is over such threads write to the driver's own streams,
 * never into the finished task's output.
 */
final class ThreadOutput extends OutputStream {
  private static final InheritableThreadLocal<Route> TARGET = new InheritableThreadLocal<>();
  private static boolean installed;

  private final PrintStream original;

  private ThreadOutput(PrintStream original) {
    this.original = original;
  }

  static synchronized void install() {
    if (!installed) {
      System.setOut(new PrintStream(new ThreadOutput(System.out), true));
      System.setErr(new PrintStream(new ThreadOutput(System.err), true));
      installed = true;
    }
  }

  /** One task's output, valid until the task calls {@link #end}. */
  static final class Route {
    private final PrintStream target;
    private volatile boolean open = true;

    private Route(PrintStream target) {
      this.target = target;
    }

    /** The task is over: every thread still holding this route writes to the driver's streams. */
    void end() {
      open = false;
      TARGET.remove();
    }
  }

  /** Route this thread's (and its future children's) output to `target` until the route ends. */
  static Route route(PrintStream target) {
    Route route = new Route(target);
    TARGET.set(route);
    return route;
  }

  private PrintStream current() {
    Route route = TARGET.get();
    return route != null && route.open ? route.target : original;
  }

  @Override
  public void write(int b) {
    current().write(b);
  }

  @Override
  public void write(byte[] b, int off, int len) {
    current().write(b, off, len);
  }

  @Override
  public void flush() {
    current().flush();
  }
}
