package io.headrace.spark;

import java.net.InetSocketAddress;
import org.apache.hadoop.hive.conf.HiveConf;
import org.apache.hadoop.hive.metastore.HiveMetaStore;
import org.apache.hadoop.hive.metastore.IHMSHandler;
import org.apache.hadoop.hive.metastore.TSetIpAddressProcessor;
import org.apache.thrift.protocol.TBinaryProtocol;
import org.apache.thrift.server.TServer;
import org.apache.thrift.server.TThreadPoolServer;
import org.apache.thrift.transport.TServerSocket;
import org.apache.thrift.transport.TTransportFactory;

/**
 * Hive's metastore Thrift service (HiveMetaStore.startMetaStore without SASL/SSL), listening
 * on 127.0.0.1 only: HiveMetaStore.main listens on every interface. Usage: PORT (0 = any free
 * port). Prints "LISTENING <port>" on stdout once clients can connect.
 */
public final class LoopbackMetastore {
  public static void main(String[] args) throws Exception {
    int port = Integer.parseInt(args[0]);
    HiveConf conf = new HiveConf(HiveMetaStore.HMSHandler.class);
    HiveMetaStore.HMSHandler base = new HiveMetaStore.HMSHandler("headrace metastore", conf, false);
    IHMSHandler handler = HiveMetaStore.newRetryingHMSHandler(base, conf);
    TServerSocket socket = new TServerSocket(new InetSocketAddress("127.0.0.1", port));
    long maxMessage = conf.getLongVar(HiveConf.ConfVars.METASTORESERVERMAXMESSAGESIZE);
    TThreadPoolServer.Args serverArgs =
        new TThreadPoolServer.Args(socket)
            .processor(new TSetIpAddressProcessor<IHMSHandler>(handler))
            .transportFactory(new TTransportFactory())
            .protocolFactory(new TBinaryProtocol.Factory())
            .inputProtocolFactory(new TBinaryProtocol.Factory(true, true, maxMessage, maxMessage))
            .minWorkerThreads(conf.getIntVar(HiveConf.ConfVars.METASTORESERVERMINTHREADS))
            .maxWorkerThreads(conf.getIntVar(HiveConf.ConfVars.METASTORESERVERMAXTHREADS));
    TServer server = new TThreadPoolServer(serverArgs);
    System.out.println("LISTENING " + socket.getServerSocket().getLocalPort());
    System.out.flush();
    server.serve();
  }
}
