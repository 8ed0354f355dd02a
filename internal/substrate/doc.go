// Package substrate is the one place that runs a sandbox end to end: the EC2,
// Lambda and Batch controllers call a Host, and the Host drives the image
// store, the volume manager, the network manager and a sandbox.Driver.
//
// # Intent first
//
// Every state-changing step is recorded in the store before the host is
// changed, so that a nimbus killed at any point leaves a record that the next
// Open can finish or undo:
//
//	Run:    record (phase creating) → attach block volumes → attach network
//	        → driver Create → record the handle and address → driver Start
//	        → record phase running → return
//
//	Delete: record phase deleting → driver Delete → network Detach
//	        → volume Detach → remove the log → remove the record
//
// (The first record already names the block volumes and the network, and
// both are detached by ID, tolerating what was never attached, so Run needs
// no commit between those steps. A sandbox the driver created before its
// handle was recorded is found through the driver's List by LabelSandbox.)
//
// # Store schema
//
// One object per sandbox, kind KindSandbox ("substrate:sandbox"), keyed by the
// owner's account and region (SystemAccount and "" when the owner has none),
// ID the sandbox ID. The value is a record (record.go), JSON, with a schema
// version. Open lists every partition (AllAccounts, AllRegions).
//
// # Recovery rules (Open)
//
//   - phase running or exited: adopted through the driver with the stored
//     Handle; a sandbox that exited while nimbus was down gets its exit status
//     from the driver (the oci shim recorded it); one the driver no longer
//     knows is reported exited with its status lost.
//   - phase creating: Run never returned, so nobody knows the sandbox: it is
//     undone (driver sandbox found by handle or by List, network, volumes,
//     log, record).
//   - phase deleting: the Delete is finished.
//   - driver sandboxes carrying LabelSandbox with no record, and network
//     attachments with no record, are deleted: orphans of a crash mid-create.
//
// Close stops the Host's goroutines and leaves sandboxes running; the next
// Open adopts them.
package substrate
