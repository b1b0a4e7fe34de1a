// Package deploy holds the deployment files (docker-compose.yml at the repository root, the
// NATS and Redis configurations here); its test loads the compose file with compose-go,
// the library behind "docker compose config", and checks what the README promises of it.
package deploy

import (
	"context"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/compose-spec/compose-go/v2/cli"
)

func TestComposeFile(t *testing.T) {
	opts, err := cli.NewProjectOptions([]string{filepath.Join("..", "docker-compose.yml")},
		cli.WithWorkingDirectory(".."), cli.WithName("aura"))
	if err != nil {
		t.Fatal(err)
	}
	p, err := opts.LoadProject(context.Background())
	if err != nil {
		t.Fatalf("docker-compose.yml does not load: %v", err)
	}
	want := []string{"api", "nats", "redis", "review", "worker"}
	if got := p.ServiceNames(); !slices.Equal(sorted(got), want) {
		t.Fatalf("services %v, want %v", got, want)
	}
	for name, s := range p.Services {
		if s.MemLimit == 0 && (s.Deploy == nil || s.Deploy.Resources.Limits == nil || s.Deploy.Resources.Limits.MemoryBytes == 0) {
			t.Errorf("%s has no memory limit", name)
		}
		published := name == "api" || name == "review"
		if (len(s.Ports) > 0) != published {
			t.Errorf("%s publishes %v; only api and review may publish a port", name, s.Ports)
		}
		for k, v := range s.Environment {
			if v != nil && strings.Contains(strings.ToLower(k), "password") && !strings.HasSuffix(k, "_FILE") {
				t.Errorf("%s: %s is set inline; credentials come from secret files", name, k)
			}
		}
	}
	if w := p.Services["worker"]; w.Deploy == nil || w.Deploy.Replicas == nil || *w.Deploy.Replicas != 2 {
		t.Errorf("worker replicas: %+v", w.Deploy)
	}
	// A service that sets its own environment replaces the shared one (a YAML merge is
	// shallow): each must still reach the services it uses.
	for name, keys := range map[string][]string{
		"worker": {"AURA_NATS_URL", "AURA_NATS_PASSWORD_FILE", "AURA_REDIS_URL", "AURA_REDIS_PASSWORD_FILE", "GOMEMLIMIT"},
		"api":    {"AURA_REDIS_URL", "AURA_REDIS_PASSWORD_FILE", "AURA_API_TOKENS_FILE"},
		"review": {"AURA_NATS_URL", "AURA_REDIS_URL"},
	} {
		for _, k := range keys {
			if v := p.Services[name].Environment[k]; v == nil || *v == "" {
				t.Errorf("%s: %s is not set", name, k)
			}
		}
	}
	// The worker decodes a 12 MP AVIF in 0.5–0.8 GB (hashing.Config.MaxHEIFPixels).
	if w := p.Services["worker"]; w.MemLimit < 1<<30 {
		t.Errorf("worker memory limit %d, want at least 1 GiB", w.MemLimit)
	}
	for _, name := range []string{"nats", "redis"} {
		if p.Services[name].HealthCheck == nil {
			t.Errorf("%s has no health check", name)
		}
	}
	for name, sec := range p.Secrets {
		if sec.File == "" || !strings.Contains(sec.File, "secrets") {
			t.Errorf("secret %s is not read from a file under secrets/: %+v", name, sec)
		}
	}
	if r := p.Services["redis"]; !strings.Contains(strings.Join(r.Command, " "), "--appendfsync always") || r.User == "" {
		t.Errorf("redis: want AOF fsync always and a non-root user: %v, user %q", r.Command, r.User)
	}
	conf, err := os.ReadFile("nats.conf")
	if err != nil || !strings.Contains(string(conf), "sync_interval: always") {
		t.Errorf("deploy/nats.conf must set sync_interval: always (%v)", err)
	}
	docker, err := os.ReadFile(filepath.Join("..", "Dockerfile"))
	if err != nil || !strings.Contains(string(docker), "\nUSER ") || !strings.Contains(string(docker), "libturbojpeg") {
		t.Errorf("Dockerfile: want a non-root USER and libturbojpeg in the image (%v)", err)
	}
}

func sorted(s []string) []string {
	out := slices.Clone(s)
	slices.Sort(out)
	return out
}
