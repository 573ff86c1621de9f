package cluster

import (
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"sort"
	"strings"
	"testing"

	"github.com/ecm-broker/ecm-broker/broker/config"
	"github.com/nats-io/nats-server/v2/server"
	"gopkg.in/yaml.v3"
)

// composeService is what the checks read of a docker-compose.yml service
// (anchors and merge keys resolved by the decoder).
type composeService struct {
	Command     []string          `yaml:"command"`
	Environment map[string]string `yaml:"environment"`
	Volumes     []string          `yaml:"volumes"`
}

// docker-compose.yml, cluster.sh and the embedded cluster of these tests run
// one topology: the same nodes, each configured by nats.conf with the same
// sync setting and routes to all, the same brokers against all nodes with
// ecm.yaml, the same adapters. This fails when one is changed without the
// other.
func TestComposeAndScriptAgree(t *testing.T) {
	root := filepath.Join(filepath.Dir(ConfigFile()), "..", "..")
	raw, err := os.ReadFile(filepath.Join(root, "docker-compose.yml"))
	if err != nil {
		t.Fatal(err)
	}
	var compose struct {
		Services map[string]composeService `yaml:"services"`
	}
	if err := yaml.Unmarshal(raw, &compose); err != nil {
		t.Fatalf("docker-compose.yml: %v", err)
	}
	script, err := os.ReadFile(filepath.Join(filepath.Dir(ConfigFile()), "cluster.sh"))
	if err != nil {
		t.Fatal(err)
	}
	scriptVar := func(name string) string {
		m := regexp.MustCompile(`(?m)^` + name + `="?([^"\n]*)"?$`).FindSubmatch(script)
		if m == nil {
			t.Fatalf("cluster.sh sets no %s", name)
		}
		return string(m[1])
	}
	nodes, brokers := strings.Fields(scriptVar("NODES")), strings.Fields(scriptVar("BROKERS"))
	adapters, area, sync := strings.Fields(scriptVar("ADAPTERS")), scriptVar("AREA"), scriptVar("SYNC_INTERVAL")

	var gotNodes, gotBrokers, gotAdapters []string
	for name, s := range compose.Services {
		switch {
		case slices.ContainsFunc(s.Volumes, func(v string) bool { return strings.HasPrefix(v, "./test/cluster/nats.conf:") }):
			gotNodes = append(gotNodes, name)
		case strings.HasPrefix(name, "broker-"):
			gotBrokers = append(gotBrokers, name)
		case strings.HasPrefix(name, "adapter-"):
			gotAdapters = append(gotAdapters, strings.TrimPrefix(name, "adapter-"))
		case name == "certs": // the brokers' development certificate (no counterpart: cluster.sh serves loopback)
		default:
			t.Errorf("docker-compose.yml: service %s is neither a node, a broker nor an adapter of cluster.sh", name)
		}
	}
	same := func(what string, compose, script []string) {
		t.Helper()
		c, s := slices.Clone(compose), slices.Clone(script)
		sort.Strings(c)
		sort.Strings(s)
		if !slices.Equal(c, s) {
			t.Errorf("%s: docker-compose.yml has %v, cluster.sh %v", what, c, s)
		}
	}
	same("nodes", gotNodes, nodes)
	same("brokers", gotBrokers, brokers)
	same("adapters", gotAdapters, adapters)
	if len(nodes) != Size {
		t.Errorf("cluster.sh runs %d nodes, the tests %d", len(nodes), Size)
	}

	// Each compose node, read through nats.conf with its environment, is the
	// node the script and the tests start: its own name, routes to every
	// node, JetStream, the script's sync setting. The script sets the same
	// variables.
	scriptEnv := map[string]bool{}
	for _, m := range regexp.MustCompile(`\b(NATS_[A-Z_0-9]+)=`).FindAllSubmatch(script, -1) {
		scriptEnv[string(m[1])] = true
	}
	for _, n := range nodes {
		s := compose.Services[n]
		for k := range s.Environment {
			if !scriptEnv[k] {
				t.Errorf("%s: docker-compose.yml sets %s, cluster.sh does not", n, k)
			}
		}
		for k := range scriptEnv {
			if _, ok := s.Environment[k]; !ok {
				t.Errorf("%s: cluster.sh sets %s, docker-compose.yml does not", n, k)
			}
		}
		if s.Environment["NATS_SYNC_INTERVAL"] != sync {
			t.Errorf("%s: NATS_SYNC_INTERVAL %q in docker-compose.yml, %q in cluster.sh", n, s.Environment["NATS_SYNC_INTERVAL"], sync)
		}
		for k, v := range s.Environment {
			t.Setenv(k, v)
		}
		opts, err := server.ProcessConfigFile(ConfigFile())
		if err != nil {
			t.Fatalf("%s: nats.conf with docker-compose.yml's environment: %v", n, err)
		}
		var routes []string
		for _, r := range opts.Routes {
			routes = append(routes, r.Hostname())
		}
		if opts.ServerName != n || !opts.JetStream || opts.SyncAlways != (sync == "always") || !slices.Equal(routes, nodes) {
			t.Errorf("%s: name %s, jetstream %v, sync always %v, routes to %v", n, opts.ServerName, opts.JetStream, opts.SyncAlways, routes)
		}
	}

	// Brokers and adapters reach every node; brokers read ecm.yaml.
	var urls []string
	for _, n := range nodes {
		urls = append(urls, fmt.Sprintf("nats://%s:4222", n))
	}
	all := strings.Join(urls, ",")
	for _, b := range brokers {
		cmd := strings.Join(compose.Services[b].Command, " ")
		if !strings.Contains(cmd, "--nats "+all) || !strings.Contains(cmd, "--config /etc/ecm/ecm.yaml") {
			t.Errorf("%s: %q does not use every node (%s) and /etc/ecm/ecm.yaml", b, cmd, all)
		}
		// Beyond loopback the API is HTTPS, with the certificate the certs
		// service writes (docs/security.md).
		if !strings.Contains(cmd, "--http-tls-cert /etc/ecm/tls/server.pem") || !strings.Contains(cmd, "--http-tls-key /etc/ecm/tls/server-key.pem") ||
			!slices.Contains(compose.Services[b].Volumes, "./cluster-certs:/etc/ecm/tls:ro") {
			t.Errorf("%s: %q does not serve HTTPS with ./cluster-certs", b, cmd)
		}
	}
	cfg, err := config.LoadConfig(filepath.Join(filepath.Dir(ConfigFile()), "ecm.yaml"))
	if err != nil {
		t.Fatalf("ecm.yaml: %v", err)
	}
	if cfg.Replicas != len(nodes) {
		t.Errorf("ecm.yaml: replicas %d on %d nodes", cfg.Replicas, len(nodes))
	}
	ids := map[string]bool{}
	for _, p := range cfg.Participants {
		ids[p.ID] = true
	}
	for _, a := range adapters {
		cmd := strings.Join(compose.Services["adapter-"+a].Command, " ")
		if !strings.Contains(cmd, "--agency "+a+" --area "+area) || !strings.Contains(cmd, "--server "+all) {
			t.Errorf("adapter-%s: %q is not --agency %s --area %s against every node", a, cmd, a, area)
		}
		if !ids[area+"/"+a] {
			t.Errorf("ecm.yaml has no participant %s/%s for its adapter", area, a)
		}
	}
}
