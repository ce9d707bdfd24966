package embed

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/isobuild/isobuild/pkg/initrd"
)

// Errors of the customization operations. Their texts are the ones
// coreos-installer prints, so existing scripts keep matching them.
var (
	ErrHasConfig        = errors.New("This ISO image already has an embedded Ignition config; use -f to force.")
	ErrNoConfig         = errors.New("No embedded Ignition config.")
	ErrHasNetwork       = errors.New("This ISO image already has embedded network settings; use -f to force.")
	ErrNoNetwork        = errors.New("No embedded network settings.")
	ErrCustomized       = errors.New("This ISO image is already customized; use -f to force.")
	ErrNetworkFeature   = errors.New("This OS image does not support customizing network settings.")
	ErrLiveKargsFeature = errors.New("This OS image does not support customizing live kernel arguments.")
)

// Keyfile is a NetworkManager keyfile to embed under NetworkDir.
type Keyfile struct {
	// Name is the file name inside NetworkDir.
	Name string
	Data []byte
}

// ReadKeyfiles reads keyfiles from paths, naming each after its base name.
// Two paths with the same base name are an error.
func ReadKeyfiles(paths []string) ([]Keyfile, error) {
	seen := map[string]bool{}
	var out []Keyfile
	for _, p := range paths {
		name := filepath.Base(p)
		if name == "." || name == "/" || strings.HasSuffix(p, "/") {
			return nil, fmt.Errorf("missing filename in %s", p)
		}
		if seen[name] {
			return nil, fmt.Errorf("multiple input files named '%s'", name)
		}
		seen[name] = true
		data, err := os.ReadFile(p)
		if err != nil {
			return nil, fmt.Errorf("reading keyfile: %w", err)
		}
		out = append(out, Keyfile{Name: name, Data: data})
	}
	return out, nil
}

// EmbedIgnition returns the changes that store config as the live Ignition
// config, keeping other members. Without force an existing config is an
// error.
func (im *Image) EmbedIgnition(config []byte, force bool) (Changes, error) {
	if _, ok := im.Config(); ok && !force {
		return Changes{}, ErrHasConfig
	}
	m := im.Members()
	m[ConfigMember] = config
	return Changes{Members: m}, nil
}

// RemoveIgnition returns the changes that drop the live Ignition config.
func (im *Image) RemoveIgnition() Changes {
	m := im.Members()
	delete(m, ConfigMember)
	return Changes{Members: m}
}

// CheckNetworkFeature fails unless the OS copies keyfiles from the initrd.
func (im *Image) CheckNetworkFeature() error {
	f, err := im.Features()
	if err != nil {
		return err
	}
	if !f.LiveInitrdNetwork {
		return ErrNetworkFeature
	}
	return nil
}

// EmbedNetwork returns the changes that replace all network keyfiles with
// the files at paths. The feature check comes before any file is read.
func (im *Image) EmbedNetwork(paths []string, force bool) (Changes, error) {
	if err := im.CheckNetworkFeature(); err != nil {
		return Changes{}, err
	}
	if len(im.NetworkFiles()) > 0 && !force {
		return Changes{}, ErrHasNetwork
	}
	keyfiles, err := ReadKeyfiles(paths)
	if err != nil {
		return Changes{}, err
	}
	m := im.RemoveNetwork().Members
	for _, k := range keyfiles {
		m[NetworkDir+k.Name] = k.Data
	}
	return Changes{Members: m}, nil
}

// RemoveNetwork returns the changes that drop every network keyfile.
func (im *Image) RemoveNetwork() Changes {
	m := im.Members()
	for k := range im.NetworkFiles() {
		delete(m, k)
	}
	return Changes{Members: m}
}

// ModifyKargs returns the changes that apply edit to the current kargs.
func (im *Image) ModifyKargs(edit KargsEdit) (Changes, error) {
	cur, err := im.CurrentKargs()
	if err != nil {
		return Changes{}, err
	}
	k, err := edit.Apply(cur)
	if err != nil {
		return Changes{}, err
	}
	return Changes{Members: im.Members(), Kargs: &k}, nil
}

// ResetKargs returns the changes that restore the default kargs.
func (im *Image) ResetKargs() (Changes, error) {
	def, err := im.DefaultKargs()
	if err != nil {
		return Changes{}, err
	}
	return Changes{Members: im.Members(), Kargs: &def}, nil
}

// Reset returns the changes that empty the initrd area and, where karg
// areas exist, restore the default kargs: the pristine image.
func (im *Image) Reset() Changes {
	c := Changes{Members: initrd.Files{}}
	if im.Kargs != nil {
		def := im.Kargs.Default
		c.Kargs = &def
	}
	return c
}

// Customization is a complete set of customizations applied to a pristine
// image: whatever the initrd area held before is replaced.
type Customization struct {
	// Config is a live Ignition config embedded as given (nil for none);
	// validating it is the caller's job. It cannot be combined with
	// Install options that generate a live config of their own: pass it as
	// Install.LiveIgnition then, to have it merged.
	Config []byte
	// Install holds the installer, network, CA, hook and merged live
	// config options.
	Install InstallOptions
	// Kargs edits the image's default kernel arguments; an empty edit
	// leaves the karg areas untouched.
	Kargs KargsEdit
	// Force allows customizing an image that is already customized.
	Force bool
	// ResetKargs writes the default kernel arguments when Kargs is empty,
	// so that no earlier karg change survives (coreos-installer leaves the
	// karg areas alone then).
	ResetKargs bool
}

// Customize returns the changes that apply c ("iso customize" and
// "build"). Without Force, an image with a config, keyfiles or non-default
// kargs is refused. Every input is read, checked and turned into area bytes
// here, before anything is written.
func (im *Image) Customize(c Customization) (Changes, error) {
	if !c.Force {
		done, err := im.Customized()
		if err != nil {
			return Changes{}, err
		}
		if done {
			return Changes{}, ErrCustomized
		}
	}
	f, err := im.Features()
	if err != nil {
		return Changes{}, err
	}
	m, err := c.Install.Members(f)
	if err != nil {
		return Changes{}, err
	}
	if c.Config != nil {
		if _, ok := m[ConfigMember]; ok {
			return Changes{}, errors.New("a config embedded as is cannot be combined with options that generate a live config; merge it instead (--live-ignition)")
		}
		m[ConfigMember] = c.Config
	}
	ch := Changes{Members: m}
	if c.Kargs.Empty() && c.ResetKargs && im.Kargs != nil {
		def := im.Kargs.Default
		ch.Kargs = &def
	}
	if !c.Kargs.Empty() {
		if im.Kargs == nil {
			return Changes{}, ErrLiveKargsFeature
		}
		k, err := c.Kargs.Apply(im.Kargs.Default)
		if err != nil {
			return Changes{}, err
		}
		ch.Kargs = &k
	}
	return ch, nil
}
