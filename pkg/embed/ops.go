package embed

import (
	"errors"

	"github.com/isobuild/isobuild/pkg/initrd"
	"github.com/isobuild/isobuild/pkg/installer"
)

// Errors of the customization operations, for conditions a caller can act
// on: most go away with a force option or with the pristine image.
var (
	ErrHasConfig        = errors.New("image already has an embedded live Ignition config")
	ErrNoConfig         = errors.New("image has no embedded live Ignition config")
	ErrHasNetwork       = errors.New("image already has embedded network settings")
	ErrNoNetwork        = errors.New("image has no embedded network settings")
	ErrCustomized       = errors.New("image is already customized")
	ErrLiveKargsFeature = errors.New("the OS image does not support customizing live kernel arguments")
)

// EmbedIgnition returns the changes that store config as the live Ignition
// config, keeping other members. Without force an existing config is an
// error.
func (im *Image) EmbedIgnition(config []byte, force bool) (Changes, error) {
	if _, ok := im.Config(); ok && !force {
		return Changes{}, ErrHasConfig
	}
	m := im.Members()
	m[installer.ConfigMember] = config
	return Changes{Members: m}, nil
}

// RemoveIgnition returns the changes that drop the live Ignition config.
func (im *Image) RemoveIgnition() Changes {
	m := im.Members()
	delete(m, installer.ConfigMember)
	return Changes{Members: m}
}

// checkNetworkFeature fails unless the OS copies keyfiles from the initrd.
func (im *Image) checkNetworkFeature() error {
	f, err := im.Features()
	if err != nil {
		return err
	}
	if !f.LiveInitrdNetwork {
		return installer.ErrNetworkFeature
	}
	return nil
}

// EmbedNetwork returns the changes that replace all network keyfiles with
// keyfiles, named as [installer.NetworkFiles] names them. The feature check
// and the check for existing keyfiles come before any input is looked at.
func (im *Image) EmbedNetwork(keyfiles []installer.Input, force bool) (Changes, error) {
	if err := im.checkNetworkFeature(); err != nil {
		return Changes{}, err
	}
	if len(im.NetworkFiles()) > 0 && !force {
		return Changes{}, ErrHasNetwork
	}
	files, err := installer.NetworkFiles(keyfiles)
	if err != nil {
		return Changes{}, err
	}
	m := im.RemoveNetwork().Members
	for k, v := range files {
		m[k] = v
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
	// Install holds the installer, network, CA, hook and live config
	// options, including a live config of the caller's own.
	Install installer.Options
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
// "build"), and the warnings of the installer customization. Without Force,
// an image with a config, keyfiles or non-default kargs is refused. Every
// input is checked and turned into area bytes here, before anything is
// written.
func (im *Image) Customize(c Customization) (Changes, []installer.Warning, error) {
	if !c.Force {
		done, err := im.customized()
		if err != nil {
			return Changes{}, nil, err
		}
		if done {
			return Changes{}, nil, ErrCustomized
		}
	}
	f, err := im.Features()
	if err != nil {
		return Changes{}, nil, err
	}
	built, err := installer.Build(c.Install, f)
	if err != nil {
		return Changes{}, nil, err
	}
	ch := Changes{Members: built.Files}
	if c.Kargs.Empty() && c.ResetKargs && im.Kargs != nil {
		def := im.Kargs.Default
		ch.Kargs = &def
	}
	if !c.Kargs.Empty() {
		if im.Kargs == nil {
			return Changes{}, nil, ErrLiveKargsFeature
		}
		k, err := c.Kargs.Apply(im.Kargs.Default)
		if err != nil {
			return Changes{}, nil, err
		}
		ch.Kargs = &k
	}
	return ch, built.Warnings, nil
}
