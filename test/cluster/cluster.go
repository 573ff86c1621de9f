// Package cluster runs the three-node NATS cluster of docker-compose.yml
// inside a test: three embedded nats-servers, each configured from the same
// nats.conf the compose file and cluster.sh use, routed to each other on
// loopback ports, each with its own JetStream store. A node can be stopped
// and started again on the same ports and store, as a node restarted by its
// supervisor would be.
//
// Its tests (cluster_test.go) run two broker instances against it with every
// stream at three replicas, take a node away while events flow and check
// that nothing is lost, nothing is delivered twice, and the brokers recover
// by themselves.
package cluster

import (
	"context"
	"fmt"
	"net"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
)

// Size is the number of nodes, as in docker-compose.yml.
const Size = 3

// ConfigFile is the node configuration shared with docker-compose.yml and
// cluster.sh.
func ConfigFile() string {
	_, file, _, _ := runtime.Caller(0)
	return filepath.Join(filepath.Dir(file), "nats.conf")
}

// Options say how to run the cluster.
type Options struct {
	// SyncInterval is NATS_SYNC_INTERVAL: "always" (the setting of
	// docker-compose.yml and cluster.sh) or a duration such as "120s".
	SyncInterval string
}

// Cluster is three running (or stopped) nodes.
type Cluster struct {
	t     testing.TB
	nodes []*Node
}

// Node is one nats-server of the cluster.
type Node struct {
	Name string
	URL  string // client URL
	env  map[string]string
	srv  *server.Server
}

// Start configures three nodes from nats.conf, starts them and waits until
// JetStream has a meta leader. They are shut down when the test ends.
func Start(t testing.TB, o Options) *Cluster {
	t.Helper()
	if o.SyncInterval == "" {
		o.SyncInterval = "always"
	}
	c := &Cluster{t: t}
	clientPorts, routePorts := freePorts(t, Size), freePorts(t, Size)
	routes := map[string]string{}
	for i := range Size {
		routes[fmt.Sprintf("NATS_ROUTE_%d", i+1)] = fmt.Sprintf("nats://127.0.0.1:%d", routePorts[i])
	}
	for i := range Size {
		n := &Node{Name: fmt.Sprintf("n%d", i+1), URL: fmt.Sprintf("nats://127.0.0.1:%d", clientPorts[i])}
		n.env = map[string]string{
			"NATS_NAME": n.Name, "NATS_HOST": "127.0.0.1", "NATS_PORT": strconv.Itoa(clientPorts[i]),
			"NATS_CLUSTER_PORT": strconv.Itoa(routePorts[i]), "NATS_MONITOR_PORT": "0",
			"NATS_STORE": filepath.Join(t.TempDir(), n.Name), "NATS_SYNC_INTERVAL": o.SyncInterval,
		}
		for k, v := range routes {
			n.env[k] = v
		}
		c.nodes = append(c.nodes, n)
	}
	t.Cleanup(func() {
		for i := range c.nodes {
			c.Stop(i)
		}
	})
	for i := range c.nodes {
		c.launch(i)
	}
	for i := range c.nodes {
		if !c.nodes[i].srv.ReadyForConnections(20 * time.Second) {
			t.Fatalf("%s not ready", c.nodes[i].Name)
		}
	}
	c.WaitJetStream()
	return c
}

// options reads nats.conf with the node's environment. The environment is
// process-wide, so nodes are configured one at a time, and the variables are
// put back as they were.
func (n *Node) options(t testing.TB) *server.Options {
	t.Helper()
	for k, v := range n.env {
		t.Setenv(k, v)
	}
	opts, err := server.ProcessConfigFile(ConfigFile())
	if err != nil {
		t.Fatalf("%s: %v", ConfigFile(), err)
	}
	opts.NoSigs = true
	return opts
}

func (c *Cluster) launch(i int) {
	c.t.Helper()
	n := c.nodes[i]
	srv, err := server.NewServer(n.options(c.t))
	if err != nil {
		c.t.Fatalf("configuring %s: %v", n.Name, err)
	}
	n.srv = srv
	go srv.Start()
}

// URLs lists every node's client URL, comma-separated, as --nats takes them.
func (c *Cluster) URLs() string {
	urls := make([]string, len(c.nodes))
	for i, n := range c.nodes {
		urls[i] = n.URL
	}
	return strings.Join(urls, ",")
}

// Node returns node i (0-based).
func (c *Cluster) Node(i int) *Node { return c.nodes[i] }

// Index returns the node whose client URL is url, or -1.
func (c *Cluster) Index(url string) int {
	for i, n := range c.nodes {
		if strings.TrimPrefix(n.URL, "nats://") == strings.TrimPrefix(url, "nats://") {
			return i
		}
	}
	return -1
}

// Stop shuts node i down, as a stopped container or killed process would be
// (its store stays on disk).
func (c *Cluster) Stop(i int) {
	n := c.nodes[i]
	if n.srv == nil {
		return
	}
	n.srv.Shutdown()
	n.srv.WaitForShutdown()
	n.srv = nil
}

// Restart starts node i again with the same name, ports and store, and
// waits until it accepts connections.
func (c *Cluster) Restart(i int) {
	c.t.Helper()
	c.launch(i)
	if !c.nodes[i].srv.ReadyForConnections(20 * time.Second) {
		c.t.Fatalf("%s not ready after restart", c.nodes[i].Name)
	}
}

// Connect opens a client connection to the cluster, closed when the test
// ends.
func (c *Cluster) Connect(opts ...nats.Option) (*nats.Conn, jetstream.JetStream) {
	c.t.Helper()
	opts = append([]nats.Option{nats.MaxReconnects(-1), nats.ReconnectWait(100 * time.Millisecond)}, opts...)
	nc, err := nats.Connect(c.URLs(), opts...)
	if err != nil {
		c.t.Fatalf("connecting to the cluster: %v", err)
	}
	c.t.Cleanup(nc.Close)
	js, err := jetstream.New(nc)
	if err != nil {
		c.t.Fatal(err)
	}
	return nc, js
}

// WaitJetStream waits until the cluster answers JetStream requests (a meta
// leader is elected).
func (c *Cluster) WaitJetStream() {
	c.t.Helper()
	nc, err := nats.Connect(c.URLs())
	if err != nil {
		c.t.Fatalf("connecting to the cluster: %v", err)
	}
	defer nc.Close()
	js, _ := jetstream.New(nc)
	deadline := time.Now().Add(30 * time.Second)
	for {
		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		_, err := js.AccountInfo(ctx)
		cancel()
		if err == nil {
			return
		}
		if time.Now().After(deadline) {
			c.t.Fatalf("JetStream not available on the cluster: %v", err)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// MoveLeader asks stream's leader to step down in favour of node i, and
// waits until node i leads it.
func (c *Cluster) MoveLeader(js jetstream.JetStream, nc *nats.Conn, stream string, i int) {
	c.t.Helper()
	want := c.nodes[i].Name
	deadline := time.Now().Add(30 * time.Second)
	for time.Now().Before(deadline) {
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		s, err := js.Stream(ctx, stream)
		cancel()
		if err == nil && s.CachedInfo().Cluster != nil && s.CachedInfo().Cluster.Leader == want {
			return
		}
		if err == nil && s.CachedInfo().Cluster != nil && s.CachedInfo().Cluster.Leader != "" {
			req := fmt.Sprintf(`{"placement":{"preferred":%q}}`, want)
			_, _ = nc.Request("$JS.API.STREAM.LEADER.STEPDOWN."+stream, []byte(req), 2*time.Second)
		}
		time.Sleep(200 * time.Millisecond)
	}
	c.t.Fatalf("%s did not become leader of %s", want, stream)
}

// WaitCurrent waits until every replica of each stream is online and
// current: a restarted node has caught up.
func (c *Cluster) WaitCurrent(js jetstream.JetStream, streams ...string) {
	c.t.Helper()
	deadline := time.Now().Add(60 * time.Second)
	for _, name := range streams {
		for {
			ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
			s, err := js.Stream(ctx, name)
			cancel()
			if err == nil && current(s.CachedInfo()) {
				break
			}
			if time.Now().After(deadline) {
				info := "no answer"
				if err == nil {
					info = fmt.Sprintf("%+v", s.CachedInfo().Cluster)
				}
				c.t.Fatalf("replicas of %s not current: %s %v", name, info, err)
			}
			time.Sleep(100 * time.Millisecond)
		}
	}
}

func current(si *jetstream.StreamInfo) bool {
	if si.Cluster == nil || si.Cluster.Leader == "" || len(si.Cluster.Replicas) != Size-1 {
		return false
	}
	for _, r := range si.Cluster.Replicas {
		if !r.Current || r.Offline || r.Lag != 0 {
			return false
		}
	}
	return true
}

// freePorts finds n loopback ports nobody listens on now.
func freePorts(t testing.TB, n int) []int {
	t.Helper()
	var ls []net.Listener
	var ports []int
	for range n {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		ls = append(ls, l)
		ports = append(ports, l.Addr().(*net.TCPAddr).Port)
	}
	for _, l := range ls {
		l.Close()
	}
	return ports
}
