package broker

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"regexp"
	"time"

	"gopkg.in/yaml.v3"
)

// Agency kinds of the domain spec.
var agencyKinds = map[string]bool{
	"la-social-care": true, "lea": true, "pct": true, "connexions": true, "yot": true, "police": true,
}

var areaSlug = regexp.MustCompile(`^[a-z][a-z0-9-]{1,39}$`)

// Participant is one agency system in one area.
type Participant struct {
	ID     string `yaml:"id" json:"id"`
	Agency string `yaml:"agency" json:"agency"`
	Area   string `yaml:"area" json:"area"`
	Token  string `yaml:"token" json:"-"`
}

// Operator is a person or tool that runs the broker.
type Operator struct {
	Name  string `yaml:"name"`
	Token string `yaml:"token"`
}

// Config is the broker's configuration file.
type Config struct {
	Participants []Participant `yaml:"participants"`
	Operators    []Operator    `yaml:"operators"`
	// ChildKeySecret keys the hash that names a child in subjects and KV keys
	// (never the raw UIN). When empty, the broker keeps one in its state.
	ChildKeySecret string `yaml:"child_key_secret"`
	// Duplicates is how long JetStream remembers message ids, so a retried
	// publish or a redelivery after a crash is stored once. Default 24h.
	Duplicates time.Duration `yaml:"duplicates"`
	// Replicas of every stream and bucket (1 on a single server, 3 on a cluster).
	Replicas int `yaml:"replicas"`
}

// ErrConfig marks configuration problems; the message names the field.
var ErrConfig = errors.New("config")

// LoadConfig reads and checks a YAML configuration file.
func LoadConfig(path string) (*Config, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("reading config: %w", err)
	}
	return ParseConfig(b)
}

// ParseConfig parses and checks a YAML configuration.
func ParseConfig(b []byte) (*Config, error) {
	var c Config
	dec := yaml.NewDecoder(bytes.NewReader(b))
	dec.KnownFields(true)
	if err := dec.Decode(&c); err != nil {
		return nil, fmt.Errorf("%w: %v", ErrConfig, err)
	}
	if err := c.Check(); err != nil {
		return nil, err
	}
	return &c, nil
}

// Check reports the first problem with the configuration, naming the field.
func (c *Config) Check() error {
	bad := func(field, format string, args ...any) error {
		return fmt.Errorf("%w: %s: %s", ErrConfig, field, fmt.Sprintf(format, args...))
	}
	if len(c.Participants) == 0 {
		return bad("participants", "at least one participant is required")
	}
	ids := map[string]bool{}
	tokens := map[string]string{}
	for i, p := range c.Participants {
		f := fmt.Sprintf("participants[%d]", i)
		switch {
		case !agencyKinds[p.Agency]:
			return bad(f+".agency", "%q is not one of la-social-care, lea, pct, connexions, yot, police", p.Agency)
		case !areaSlug.MatchString(p.Area):
			return bad(f+".area", "%q is not an area slug (lower-case letters, digits, '-')", p.Area)
		case p.ID != p.Area+"/"+p.Agency:
			return bad(f+".id", "%q must be <area>/<agency>, here %q", p.ID, p.Area+"/"+p.Agency)
		case ids[p.ID]:
			return bad(f+".id", "%q is given twice", p.ID)
		case len(p.Token) < 16:
			return bad(f+".token", "must be at least 16 characters")
		case tokens[p.Token] != "":
			return bad(f+".token", "is the same as %s's", tokens[p.Token])
		}
		ids[p.ID] = true
		tokens[p.Token] = p.ID
	}
	for i, o := range c.Operators {
		f := fmt.Sprintf("operators[%d]", i)
		switch {
		case o.Name == "":
			return bad(f+".name", "is required")
		case len(o.Token) < 16:
			return bad(f+".token", "must be at least 16 characters")
		case tokens[o.Token] != "":
			return bad(f+".token", "is the same as %s's", tokens[o.Token])
		}
		tokens[o.Token] = "operator " + o.Name
	}
	if c.Duplicates == 0 {
		c.Duplicates = 24 * time.Hour
	}
	if c.Duplicates < time.Minute {
		return bad("duplicates", "must be at least 1m")
	}
	if c.Replicas == 0 {
		c.Replicas = 1
	}
	if c.Replicas < 0 || c.Replicas > 5 {
		return bad("replicas", "must be between 1 and 5")
	}
	return nil
}
