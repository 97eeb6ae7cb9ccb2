package io.headrace.spark;

import java.io.OutputStream;
import java.io.PrintStream;

/**
 * {@code System.out} and {@code System.err} of the driver, routed per thread: a JAR task's thread
 * (and every thread it starts: the target is inherited) writes to its task's output, all other
 * threads to the driver's own streams. Installed once, on the first JAR task.
 */
final class ThreadOutput extends OutputStream {
  private static final InheritableThreadLocal<PrintStream> TARGET = new InheritableThreadLocal<>();
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

  /** Where this thread's (and its future children's) output goes; null: the driver's. */
  static void route(PrintStream target) {
    if (target == null) {
      TARGET.remove();
    } else {
      TARGET.set(target);
    }
  }

  private PrintStream current() {
    PrintStream target = TARGET.get();
    return target != null ? target : original;
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
