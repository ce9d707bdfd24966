package output

import (
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"testing"
)

// TestCrossCompile builds the platform-specific packages (no-clobber
// renames and unnamed files here, locks in filelock, the journal's file
// checks in imagefile) for every platform the README lists, without cgo.
// .ci/run cross-compiles the whole CLI too; this keeps a plain go test
// from missing a broken build tag.
func TestCrossCompile(t *testing.T) {
	if testing.Short() {
		t.Skip("compiles for six platforms")
	}
	goBin := filepath.Join(runtime.GOROOT(), "bin", "go")
	if _, err := os.Stat(goBin); err != nil {
		t.Fatalf("go command not found at %s: %v", goBin, err)
	}
	for _, target := range [][2]string{
		{"linux", "amd64"}, {"linux", "arm64"}, {"darwin", "amd64"}, {"darwin", "arm64"}, {"windows", "amd64"}, {"freebsd", "amd64"},
	} {
		t.Run(target[0]+"/"+target[1], func(t *testing.T) {
			cmd := exec.Command(goBin, "build", "./internal/output", "./internal/filelock", "./internal/imagefile")
			cmd.Dir = "../.."
			cmd.Env = append(os.Environ(), "GOOS="+target[0], "GOARCH="+target[1], "CGO_ENABLED=0")
			if out, err := cmd.CombinedOutput(); err != nil {
				t.Fatalf("go build for %s/%s: %v\n%s", target[0], target[1], err, out)
			}
		})
	}
}
