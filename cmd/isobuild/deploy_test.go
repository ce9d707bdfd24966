package main

import (
	"bytes"
	"errors"
	"io"
	"os"
	"regexp"
	"strconv"
	"strings"
	"testing"

	"gopkg.in/yaml.v3"
)

// TestDeployManifest keeps deploy/ and the CLI from drifting apart: every
// argument the Kubernetes manifest passes to isobuild must be a flag of
// the command it names, and the probes must use a path the server answers.
func TestDeployManifest(t *testing.T) {
	data, err := os.ReadFile("../../deploy/kubernetes.yaml")
	if err != nil {
		t.Fatal(err)
	}
	type container struct {
		Name    string
		Args    []string
		Command []string
		Ports   []struct {
			Name          string
			ContainerPort int `yaml:"containerPort"`
		}
		ReadinessProbe *struct {
			HTTPGet struct{ Path, Port string } `yaml:"httpGet"`
		} `yaml:"readinessProbe"`
	}
	var containers []container
	dec := yaml.NewDecoder(bytes.NewReader(data))
	kinds := map[string]bool{}
	for {
		var doc struct {
			Kind string
			Spec struct {
				Template struct {
					Spec struct{ Containers []container }
				}
			}
		}
		if err := dec.Decode(&doc); errors.Is(err, io.EOF) {
			break
		} else if err != nil {
			t.Fatalf("deploy/kubernetes.yaml: %v", err)
		}
		kinds[doc.Kind] = true
		if doc.Kind == "Deployment" {
			containers = append(containers, doc.Spec.Template.Spec.Containers...)
		}
	}
	for _, k := range []string{"Deployment", "Service"} {
		if !kinds[k] {
			t.Errorf("deploy/kubernetes.yaml has no %s", k)
		}
	}
	if len(containers) != 1 {
		t.Fatalf("the Deployment has %d containers, want 1", len(containers))
	}
	c := containers[0]
	if len(c.Args) == 0 || c.Args[0] != "serve" {
		t.Fatalf("container args %q: want the serve command first", c.Args)
	}
	root := newRootCmd(nil, io.Discard, io.Discard)
	serve, _, err := root.Find([]string{"serve"})
	if err != nil || serve.Name() != "serve" {
		t.Fatalf("no serve command: %v", err)
	}
	var positional []string
	listen := ""
	for _, a := range c.Args[1:] {
		if !strings.HasPrefix(a, "--") {
			positional = append(positional, a)
			continue
		}
		name, val, hasVal := strings.Cut(strings.TrimPrefix(a, "--"), "=")
		f := serve.Flags().Lookup(name)
		if f == nil {
			t.Errorf("the manifest passes %s, which isobuild serve does not accept", a)
			continue
		}
		if !hasVal && f.Value.Type() != "bool" {
			t.Errorf("the manifest passes %s without a value (write --%s=VALUE)", a, name)
		}
		if hasVal {
			if err := f.Value.Set(val); err != nil {
				t.Errorf("the manifest's %s: %v", a, err)
			}
		}
		if name == "listen" {
			listen = val
		}
	}
	if len(positional) != 1 {
		t.Errorf("the manifest passes %q as arguments, want the base image only", positional)
	}
	// The container port, the listen address and the probe agree.
	port := regexp.MustCompile(`:(\d+)$`).FindStringSubmatch(listen)
	if port == nil {
		t.Fatalf("--listen=%q names no port", listen)
	}
	found := false
	for _, p := range c.Ports {
		if p.Name == "http" && port[1] == strconv.Itoa(p.ContainerPort) {
			found = true
		}
	}
	if !found {
		t.Errorf("no container port named http is the --listen port %s", port[1])
	}
	if c.ReadinessProbe == nil || c.ReadinessProbe.HTTPGet.Path != "/healthz" || c.ReadinessProbe.HTTPGet.Port != "http" {
		t.Errorf("the readiness probe is %+v, want GET /healthz on the http port", c.ReadinessProbe)
	}
}
