package inventory

import (
	"errors"
	"strings"
	"testing"
)

const tmpl = `variant: fcos
version: 1.5.0
storage:
  files:
    - path: /etc/hostname
      contents:
        inline: {{ .Name }}
    - path: /etc/ip
      contents:
        inline: {{ .Vars.ip }}
`

func TestRender(t *testing.T) {
	tp, err := ParseTemplate("T.bu", []byte(tmpl))
	if err != nil {
		t.Fatal(err)
	}
	got, err := tp.Render(Host{Name: "web1", Vars: map[string]string{"ip": "192.0.2.11", "unused": "x"}})
	if err != nil {
		t.Fatal(err)
	}
	want := strings.Replace(strings.Replace(tmpl, "{{ .Name }}", "web1", 1), "{{ .Vars.ip }}", "192.0.2.11", 1)
	if string(got) != want {
		t.Fatalf("got\n%s\nwant\n%s", got, want)
	}
	// Concurrent use renders each host's own bytes.
	done := make(chan error, 16)
	for i := range 16 {
		go func() {
			name := "h" + strings.Repeat("x", i)
			out, err := tp.Render(Host{Name: name, Vars: map[string]string{"ip": name}})
			if err == nil && !strings.Contains(string(out), "inline: "+name+"\n") {
				err = errors.New("wrong output for " + name)
			}
			done <- err
		}()
	}
	for range 16 {
		if err := <-done; err != nil {
			t.Fatal(err)
		}
	}
}

func TestRenderMissingVar(t *testing.T) {
	tp, err := ParseTemplate("T.bu", []byte(tmpl))
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		h    Host
		want string
	}{
		{Host{Name: "web2"}, `T.bu:10:24: host "web2" has no var "ip": the host has no vars`},
		{Host{Name: "web3", Vars: map[string]string{"IP": "x", "addr": "y"}}, `T.bu:10:24: host "web3" has no var "ip": its vars are IP, addr`},
	} {
		_, err := tp.Render(tc.h)
		if err == nil {
			t.Fatalf("%s: rendered without the var", tc.h.Name)
		}
		if err.Error() != tc.want {
			t.Errorf("error %q, want %q", err, tc.want)
		}
		var te *TemplateError
		if !errors.As(err, &te) || te.Host != tc.h.Name || te.Key != "ip" || !errors.Is(err, ErrTemplate) {
			t.Errorf("error %#v does not name the host and the key", err)
		}
	}
}

func TestTemplateErrors(t *testing.T) {
	if _, err := ParseTemplate("T.bu", []byte("a: {{ .Name \n")); err == nil || !strings.HasPrefix(err.Error(), "T.bu:2: unclosed action") || !errors.Is(err, ErrTemplate) {
		t.Fatalf("parse error %v", err)
	}
	tp, err := ParseTemplate("T.bu", []byte("a: {{ .Nmae }}\n"))
	if err != nil {
		t.Fatal(err)
	}
	_, err = tp.Render(Host{Name: "a"})
	if err == nil || !strings.Contains(err.Error(), `T.bu:1:6: rendering for host "a": can't evaluate field Nmae`) {
		t.Fatalf("render error %v", err)
	}
	// A template that repeats itself is cut at MaxRenderSize.
	var b strings.Builder
	b.WriteString(`{{ $x := "` + strings.Repeat("x", 1<<10) + `" }}`)
	for range 4 {
		b.WriteString(`{{ range $.Vars }}`)
	}
	b.WriteString(`{{ $x }}`)
	for range 4 {
		b.WriteString(`{{ end }}`)
	}
	tp, err = ParseTemplate("big.bu", []byte(b.String()))
	if err != nil {
		t.Fatal(err)
	}
	vars := map[string]string{}
	for i := range 100 {
		vars["v"+strings.Repeat("x", i)] = "y"
	}
	if _, err := tp.Render(Host{Name: "a", Vars: vars}); err == nil || !strings.Contains(err.Error(), "larger than 64 MiB") {
		t.Fatalf("render error %v", err)
	}
}
