import java.util.List;
import java.util.Properties;
import java.util.concurrent.TimeUnit;
import org.apache.kafka.clients.admin.Admin;
import org.apache.kafka.clients.admin.AdminClientConfig;
import org.apache.kafka.clients.admin.CreateTopicsOptions;
import org.apache.kafka.clients.admin.NewTopic;
import org.apache.kafka.common.errors.TransactionalIdNotFoundException;

/**
 * Waits until a Kafka broker can serve clients: it answers metadata, has an active controller,
 * would accept a topic creation (validate-only, so nothing is created), and its group and
 * transaction coordinators have loaded.
 *
 * <p>A bare TCP check passes while the broker is still fenced or replaying its logs, and the
 * first producer, consumer group or admin call then fails or stalls. Asking the coordinators
 * also creates {@code __consumer_offsets} and {@code __transaction_state} on a fresh broker, so
 * the first test does not pay for that.
 *
 * <p>Usage: {@code java -cp <kafka libs> KafkaReady <bootstrap> <timeoutSeconds>}. Exit 0 when
 * ready, 1 (with the last error on stderr) on timeout.
 */
public final class KafkaReady {
  public static void main(String[] args) throws Exception {
    String bootstrap = args.length > 0 ? args[0] : "127.0.0.1:9092";
    long timeoutSeconds = args.length > 1 ? Long.parseLong(args[1]) : 60;
    long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(timeoutSeconds);

    Properties props = new Properties();
    props.put(AdminClientConfig.BOOTSTRAP_SERVERS_CONFIG, bootstrap);
    props.put(AdminClientConfig.CLIENT_ID_CONFIG, "shopmesh-infra-ready");
    props.put(AdminClientConfig.REQUEST_TIMEOUT_MS_CONFIG, "3000");
    props.put(AdminClientConfig.DEFAULT_API_TIMEOUT_MS_CONFIG, "5000");
    props.put(AdminClientConfig.RECONNECT_BACKOFF_MS_CONFIG, "100");
    props.put(AdminClientConfig.RECONNECT_BACKOFF_MAX_MS_CONFIG, "500");

    Throwable last = null;
    try (Admin admin = Admin.create(props)) {
      while (System.nanoTime() < deadline) {
        try {
          var cluster = admin.describeCluster();
          int brokers = cluster.nodes().get(5, TimeUnit.SECONDS).size();
          var controller = cluster.controller().get(5, TimeUnit.SECONDS);
          if (brokers > 0 && controller != null && !controller.isEmpty()) {
            admin
                .createTopics(
                    List.of(new NewTopic("shopmesh-infra-ready-check", 1, (short) 1)),
                    new CreateTopicsOptions().validateOnly(true))
                .all()
                .get(5, TimeUnit.SECONDS);
            admin
                .describeConsumerGroups(List.of("shopmesh-infra-ready"))
                .all()
                .get(5, TimeUnit.SECONDS);
            try {
              admin
                  .describeTransactions(List.of("shopmesh-infra-ready"))
                  .all()
                  .get(5, TimeUnit.SECONDS);
            } catch (java.util.concurrent.ExecutionException e) {
              // The coordinator answered (and is loaded): the id just does not exist.
              if (!(e.getCause() instanceof TransactionalIdNotFoundException)) throw e;
            }
            System.out.println(
                "kafka ready: " + brokers + " broker(s), cluster " + cluster.clusterId().get());
            return;
          }
          last = new IllegalStateException("no broker or controller in metadata yet");
        } catch (Exception e) {
          last = e.getCause() != null ? e.getCause() : e;
        }
        Thread.sleep(300);
      }
    }
    System.err.println("kafka not ready after " + timeoutSeconds + "s: " + last);
    System.exit(1);
  }
}
