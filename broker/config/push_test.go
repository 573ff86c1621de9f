package config

import (
	"encoding/base64"
	"errors"
	"strings"
	"testing"
	"time"
)

func TestPushConfig(t *testing.T) {
	secret := "whsec_" + base64.StdEncoding.EncodeToString([]byte("an example key of 32 bytes long!"))
	conf := func(push, settings string) string {
		return "participants:\n - {id: leeds/pct, agency: pct, area: leeds, token: k3Tq9vXw2pLm7RzY, push: " + push + "}\n" + settings
	}
	tests := []struct {
		name, push, settings string
		want                 string // substring of the error; "" means valid
	}{
		{"https", "{url: 'https://engine.example.nhs.uk/ecm', secret: " + secret + "}", "", ""},
		{"loopback http", "{url: 'http://127.0.0.1:8081/ecm', secret: " + secret + "}", "", ""},
		{"localhost http", "{url: 'http://localhost:8081/', secret: " + secret + "}", "", ""},
		{"ipv6 loopback http", "{url: 'http://[::1]:8081/', secret: " + secret + "}", "", ""},
		{"plain http elsewhere", "{url: 'http://engine.example.nhs.uk/ecm', secret: " + secret + "}", "", "participants[0].push.url: \"http://engine.example.nhs.uk/ecm\" is plain http"},
		{"other scheme", "{url: 'ftp://engine.example.nhs.uk/', secret: " + secret + "}", "", "scheme must be https"},
		{"no url", "{secret: " + secret + "}", "", "push.url: is required"},
		{"relative url", "{url: /ecm, secret: " + secret + "}", "", "not an absolute URL"},
		{"no whsec_", "{url: 'https://e.example/', secret: " + strings.TrimPrefix(secret, "whsec_") + "}", "", "push.secret: must be a Standard Webhooks secret"},
		{"not base64", "{url: 'https://e.example/', secret: whsec_not*base64}", "", "not standard base64"},
		{"short key", "{url: 'https://e.example/', secret: whsec_" + base64.StdEncoding.EncodeToString([]byte("short")) + "}", "", "decodes to 5 bytes"},
		{"backoff max under initial", "{url: 'https://e.example/', secret: " + secret + "}", "push: {backoff: {initial: 10s, max: 1s}}\n", "push.backoff.max"},
		{"negative give up", "{url: 'https://e.example/', secret: " + secret + "}", "push: {give_up_after: -1h}\n", "push.give_up_after"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, err := ParseConfig([]byte(conf(tt.push, tt.settings)))
			if tt.want == "" {
				if err != nil {
					t.Fatal(err)
				}
				if len(c.Participants[0].Push.Key()) != 32 {
					t.Errorf("key of %d bytes", len(c.Participants[0].Push.Key()))
				}
				return
			}
			if err == nil || !errors.Is(err, ErrConfig) || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("error %v, want one containing %q", err, tt.want)
			}
		})
	}
}

func TestPushDefaults(t *testing.T) {
	c, err := ParseConfig([]byte("participants:\n - {id: leeds/pct, agency: pct, area: leeds, token: k3Tq9vXw2pLm7RzY}\n"))
	if err != nil {
		t.Fatal(err)
	}
	p := c.Push
	if p.Timeout != 10*time.Second || p.Backoff.Initial != 5*time.Second || p.Backoff.Max != time.Hour ||
		p.GiveUpAfter != 72*time.Hour || p.Breaker.Failures != 5 || p.Breaker.Cooldown != time.Minute {
		t.Errorf("defaults %+v", p)
	}
}
