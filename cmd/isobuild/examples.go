package main

import "github.com/spf13/cobra"

// commandExamples are the examples of the commands whose definitions do
// not carry their own, by command path. TestEveryCommandHasExamples keeps
// every runnable command covered and every key pointing at a command.
var commandExamples = map[string]string{
	"isobuild iso ignition show": `  # Print the live Ignition config embedded in an image:
  isobuild iso ignition show custom.iso

  # Pretty-print it:
  isobuild iso ignition show custom.iso | jq .`,
	"isobuild iso ignition remove": `  # Remove the live config, writing a new image:
  isobuild iso ignition remove -o plain.iso custom.iso

  # Remove it in place:
  isobuild iso ignition remove custom.iso`,
	"isobuild iso kargs show": `  # The live kernel arguments the image boots with:
  isobuild iso kargs show custom.iso

  # Those of the pristine image:
  isobuild iso kargs show --default custom.iso`,
	"isobuild iso kargs reset": `  # Back to the image's default kernel arguments, as a new file:
  isobuild iso kargs reset -o default-kargs.iso custom.iso

  # In place:
  isobuild iso kargs reset custom.iso`,
	"isobuild iso network extract": `  # Print the embedded NetworkManager keyfiles:
  isobuild iso network extract custom.iso

  # Write them into a directory (existing files are never overwritten):
  isobuild iso network extract -C keyfiles/ custom.iso`,
	"isobuild iso network remove": `  # Drop the embedded keyfiles, writing a new image:
  isobuild iso network remove -o dhcp.iso custom.iso`,
	"isobuild iso reset": `  # Remove every customization, writing the pristine image to a new file:
  isobuild iso reset -o pristine.iso custom.iso
  cmp pristine.iso fedora-coreos-live.x86_64.iso   # same bytes

  # In place:
  isobuild iso reset custom.iso`,
	"isobuild iso extract pxe": `  # Write the kernel, initramfs and rootfs for PXE booting into ./pxe
  # (files named after the image: live-vmlinuz, live-initrd.img, live-rootfs.img):
  isobuild iso extract pxe -o pxe/ live.iso`,
	"isobuild pxe ignition wrap": `  # Put a live config into an initramfs to append on the PXE kernel line:
  isobuild pxe ignition wrap -i config.ign -o config.img
  #   then: initrd=initrd.img,config.img (or a second initrd line in iPXE/GRUB)

  # From a pipe:
  isobuild butane config.bu | isobuild pxe ignition wrap -o config.img`,
	"isobuild pxe ignition unwrap": `  # Print the config inside an initramfs that 'pxe ignition wrap' made:
  isobuild pxe ignition unwrap config.img

  # Or inside a customized live initramfs:
  isobuild pxe ignition unwrap custom-initrd.img | jq .`,
	"isobuild pxe network wrap": `  # Keyfiles for the live PXE system, as an extra initramfs:
  isobuild pxe network wrap -k eth0.nmconnection -k bond0.nmconnection -o network.img`,
	"isobuild pxe network unwrap": `  # Print the keyfiles inside an initramfs:
  isobuild pxe network unwrap network.img

  # Write them into a directory:
  isobuild pxe network unwrap -C keyfiles/ network.img`,
	"isobuild completion bash": `  # For this shell:
  source <(isobuild completion bash)
  # For every new shell:
  isobuild completion bash > ~/.local/share/bash-completion/completions/isobuild`,
	"isobuild completion zsh":        `  isobuild completion zsh > "${fpath[1]}/_isobuild"`,
	"isobuild completion fish":       `  isobuild completion fish > ~/.config/fish/completions/isobuild.fish`,
	"isobuild completion powershell": `  isobuild completion powershell | Out-String | Invoke-Expression`,
	"isobuild dev show iso": `  # The embed areas of an image as JSON (coreos-installer dev show iso):
  isobuild dev show iso --ignition live.iso
  isobuild dev show iso --kargs live.iso`,
}

// addExamples gives the commands under c their examples from
// commandExamples.
func addExamples(c *cobra.Command) {
	if ex, ok := commandExamples[c.CommandPath()]; ok && c.Example == "" {
		c.Example = ex
	}
	for _, sub := range c.Commands() {
		addExamples(sub)
	}
}
