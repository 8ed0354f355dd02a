package lambda

import (
	"time"
)

// functionConfiguration is Lambda's FunctionConfiguration output shape.
type functionConfiguration struct {
	FunctionName               string
	FunctionArn                string
	Runtime                    string `json:",omitempty"`
	Role                       string
	Handler                    string `json:",omitempty"`
	CodeSize                   int64
	Description                string
	Timeout                    int
	MemorySize                 int
	LastModified               string
	CodeSha256                 string
	Version                    string
	Environment                *environmentResponse `json:",omitempty"`
	TracingConfig              map[string]string
	RevisionId                 string
	State                      string
	StateReason                string `json:",omitempty"`
	StateReasonCode            string `json:",omitempty"`
	LastUpdateStatus           string
	LastUpdateStatusReason     string `json:",omitempty"`
	LastUpdateStatusReasonCode string `json:",omitempty"`
	PackageType                string
	ImageConfigResponse        *imageConfigResponse `json:",omitempty"`
	Architectures              []string
	EphemeralStorage           map[string]int
	SnapStart                  map[string]string
	LoggingConfig              map[string]string
	RuntimeVersionConfig       map[string]string `json:",omitempty"`
}

type environmentResponse struct {
	Variables map[string]string
}

type imageConfigResponse struct {
	ImageConfig *imageConfig
}

// lastModifiedFormat is how Lambda writes LastModified, a string member.
const lastModifiedFormat = "2006-01-02T15:04:05.000-0700"

// functionState is a version's State and LastUpdateStatus at an instant.
type functionState struct {
	State, StateReason, StateReasonCode                                  string
	LastUpdateStatus, LastUpdateStatusReason, LastUpdateStatusReasonCode string
}

// stateAt derives the version's states from its timestamps, as Lambda
// reports them: Pending (Creating) until the function is ready, then Active;
// an update InProgress (Creating) until it settles, then Successful.
func (v *versionRecord) stateAt(now time.Time) functionState {
	st := functionState{State: "Active", LastUpdateStatus: "Successful"}
	if now.Before(v.PendingUntil) {
		st = functionState{State: "Pending", StateReason: "The function is being created.", StateReasonCode: "Creating",
			LastUpdateStatus: "InProgress", LastUpdateStatusReason: "The function is being created.", LastUpdateStatusReasonCode: "Creating"}
	} else if now.Before(v.UpdatingUntil) {
		st.LastUpdateStatus = "InProgress"
		st.LastUpdateStatusReason = "The function is being created."
		st.LastUpdateStatusReasonCode = "Creating"
	}
	return st
}

// configuration renders a version as FunctionConfiguration.
func (a *API) configuration(account, region string, f *functionRecord, v *versionRecord) *functionConfiguration {
	st := v.stateAt(a.now())
	arn := functionARN(account, region, f.Name)
	if v.Version != latest {
		arn += ":" + v.Version
	}
	c := &functionConfiguration{
		FunctionName: f.Name, FunctionArn: arn, Role: v.Role, CodeSize: v.CodeSize,
		Description: v.Description, Timeout: v.Timeout, MemorySize: v.MemorySize,
		LastModified: v.LastModified.UTC().Format(lastModifiedFormat), CodeSha256: v.CodeSha256,
		Version: v.Version, TracingConfig: map[string]string{"Mode": "PassThrough"}, RevisionId: v.RevisionID,
		State: st.State, StateReason: st.StateReason, StateReasonCode: st.StateReasonCode,
		LastUpdateStatus: st.LastUpdateStatus, LastUpdateStatusReason: st.LastUpdateStatusReason,
		LastUpdateStatusReasonCode: st.LastUpdateStatusReasonCode,
		PackageType:                v.PackageType, Architectures: []string{v.Arch},
		EphemeralStorage: map[string]int{"Size": v.Ephemeral},
		SnapStart:        map[string]string{"ApplyOn": "None", "OptimizationStatus": "Off"},
		LoggingConfig:    map[string]string{"LogFormat": v.LogFormat, "LogGroup": v.LogGroup},
	}
	if v.PackageType == packageZip {
		c.Runtime, c.Handler = v.Runtime, v.Handler
		c.RuntimeVersionConfig = map[string]string{"RuntimeVersionArn": "arn:aws:lambda:" + region + "::runtime:nimbus-" + v.Runtime}
	}
	if len(v.Environment) > 0 {
		c.Environment = &environmentResponse{Variables: v.Environment}
	}
	if v.ImageConfig != nil {
		c.ImageConfigResponse = &imageConfigResponse{ImageConfig: v.ImageConfig}
	}
	return c
}
