package ec2

import (
	"bytes"
	"compress/gzip"
	"context"
	"encoding/base64"
	"os/exec"
	"strings"
	"testing"
)

const testCloudConfig = `#cloud-config
users:
  - default
  - name: alice
    gecos: Alice O'Hara
    shell: /bin/sh
    groups: [wheel]
    sudo: ALL=(ALL) NOPASSWD:ALL
    ssh_authorized_keys:
      - ssh-ed25519 AAAAalice alice@example
ssh_authorized_keys:
  - ssh-ed25519 AAAAtop top@example
write_files:
  - path: /etc/motd.d/hello
    content: |
      hello from cloud-config; it's "quoted" $HOME
    permissions: '0640'
  - path: /opt/app/data.bin
    encoding: b64
    content: aGVsbG8gYmFzZTY0
    permissions: '0600'
  - path: /opt/app/zipped
    encoding: gz+b64
    content: GZIPPED
  - path: /etc/motd.d/hello
    content: "appended line\n"
    append: true
  - path: relative/path
    content: x
packages:
  - jq
  - [curl, 7.88.1-10]
runcmd:
  - echo runcmd-shell-ran > /tmp/runcmd-shell
  - [sh, -c, "echo runcmd-argv ran with 'quotes' > /tmp/runcmd-argv"]
  - exit 3
bootcmd:
  - echo never
`

func gzipBase64(t *testing.T, s string) string {
	t.Helper()
	var buf bytes.Buffer
	w := gzip.NewWriter(&buf)
	w.Write([]byte(s))
	w.Close()
	return base64.StdEncoding.EncodeToString(buf.Bytes())
}

func testCloudConfigDoc(t *testing.T) string {
	return strings.Replace(testCloudConfig, "GZIPPED", gzipBase64(t, "hello gzip\n"), 1)
}

func TestRenderCloudConfig(t *testing.T) {
	if !isCloudConfig([]byte("#cloud-config\n")) || isCloudConfig([]byte("#!/bin/sh\n")) {
		t.Fatal("isCloudConfig misjudges")
	}
	r := renderCloudConfig([]byte(testCloudConfigDoc(t)), "admin")
	script := string(r.Script)
	for _, want := range []string{
		`cc_user 'alice' '/bin/sh' '' 'Alice O'\''Hara' 'wheel'`,
		`cc_sudo 'alice' 'ALL=(ALL) NOPASSWD:ALL'`,
		`cc_key 'alice' 'ssh-ed25519 AAAAalice alice@example'`,
		`cc_key 'admin' 'ssh-ed25519 AAAAtop top@example'`,
		`cc_write 'cloud-config-file-0' '/etc/motd.d/hello' '0640' 'root:root'`,
		`cc_append 'cloud-config-file-3' '/etc/motd.d/hello' '0644' 'root:root'`,
		`cc_packages 0 0 'jq' 'curl=7.88.1-10'`,
		`cc_run 'echo runcmd-shell-ran > /tmp/runcmd-shell'`,
		`cc_run ''\''sh'\'' '\''-c'\''`,
		"not supported, skipped: bootcmd",
		"write_files entry 5 has no absolute path",
	} {
		if !strings.Contains(script, want) {
			t.Errorf("script lacks %q:\n%s", want, script)
		}
	}
	wantFiles := map[string]string{"cloud-config-file-0": "hello from cloud-config; it's \"quoted\" $HOME\n",
		"cloud-config-file-1": "hello base64", "cloud-config-file-2": "hello gzip\n", "cloud-config-file-3": "appended line\n"}
	for name, content := range wantFiles {
		if got := string(r.Files[name]); got != content {
			t.Errorf("%s = %q, want %q", name, got, content)
		}
	}
	if len(r.Files) != len(wantFiles) {
		t.Errorf("files = %v", r.Files)
	}
	for _, sh := range []string{"dash", "busybox"} {
		argv := []string{sh, "-n", "-c", script}
		if sh == "busybox" {
			argv = []string{"busybox", "sh", "-n", "-c", script}
		}
		if _, err := exec.LookPath(argv[0]); err != nil {
			continue
		}
		if out, err := exec.Command(argv[0], argv[1:]...).CombinedOutput(); err != nil {
			t.Errorf("%s rejects the rendered script: %v\n%s", sh, err, out)
		}
	}

	// Root takes the top-level keys on images without a default user.
	if r := renderCloudConfig([]byte("#cloud-config\nssh_authorized_keys: [k1]\n"), ""); !strings.Contains(string(r.Script), "cc_key 'root' 'k1'") {
		t.Errorf("keys without a default user:\n%s", r.Script)
	}
	bad := renderCloudConfig([]byte("#cloud-config\nusers: [bob]\n"), "")
	if !strings.Contains(string(bad.Script), "cannot parse the user data") {
		t.Errorf("bad document rendered:\n%s", bad.Script)
	}
	enc := renderCloudConfig([]byte("#cloud-config\nwrite_files: [{path: /x, encoding: rot13, content: y}]\n"), "")
	if !strings.Contains(string(enc.Script), `encoding \"rot13\" is not supported`) && !strings.Contains(string(enc.Script), `encoding "rot13" is not supported`) {
		t.Errorf("unknown encoding rendered:\n%s", enc.Script)
	}
}

// TestCloudConfigOCI boots the busybox AMI under runc with cloud-config
// user data and checks its effects inside the instance.
func TestCloudConfigOCI(t *testing.T) {
	h := openOCIHarness(t)
	res := h.run(&runInstancesInput{UserData: base64.StdEncoding.EncodeToString([]byte(testCloudConfigDoc(t)))})
	id := res.Instances[0].InstanceId
	h.waitState(id, "running")
	waitFor(t, "cloud-config's runcmd", func() bool { return strings.Contains(h.console(id), "runcmd exited with status 3") })
	console := h.console(id)
	for _, want := range []string{"user alice created", "wrote /etc/motd.d/hello", "appended to /etc/motd.d/hello",
		"the image has no package manager: packages skipped", "authorized key added for alice", "not supported, skipped: bootcmd"} {
		if !strings.Contains(console, want) {
			t.Errorf("console lacks %q:\n%s", want, console)
		}
	}
	exec := func(args ...string) string {
		t.Helper()
		var out, errOut bytes.Buffer
		code, err := h.host.Exec(context.Background(), id, args, nil, &out, &errOut)
		if err != nil || code != 0 {
			t.Errorf("%v in the instance: exit %d, %v, %s", args, code, err, errOut.String())
		}
		return out.String()
	}
	checks := map[string]string{
		"/etc/motd.d/hello":                "hello from cloud-config; it's \"quoted\" $HOME\nappended line\n",
		"/opt/app/data.bin":                "hello base64",
		"/opt/app/zipped":                  "hello gzip\n",
		"/tmp/runcmd-shell":                "runcmd-shell-ran\n",
		"/tmp/runcmd-argv":                 "runcmd-argv ran with quotes\n", // sh -c reads the quotes, as under cloud-init
		"/home/alice/.ssh/authorized_keys": "ssh-ed25519 AAAAalice alice@example\n",
		"/root/.ssh/authorized_keys":       "ssh-ed25519 AAAAtop top@example\n",
	}
	for file, want := range checks {
		if got := exec("cat", file); got != want {
			t.Errorf("%s = %q, want %q", file, got, want)
		}
	}
	if perms := exec("stat", "-c", "%a", "/opt/app/data.bin"); strings.TrimSpace(perms) != "600" {
		t.Errorf("permissions of /opt/app/data.bin = %q, want 600", perms)
	}
	if passwd := exec("grep", "^alice:", "/etc/passwd"); !strings.Contains(passwd, "Alice O'Hara") {
		t.Errorf("alice in /etc/passwd = %q", passwd)
	}
}
