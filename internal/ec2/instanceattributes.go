package ec2

import (
	"context"
	"encoding/base64"
	"strings"
	"time"

	"github.com/nimbus-dev/nimbus/internal/awserr"
	"github.com/nimbus-dev/nimbus/internal/store"
)

type attributeBool struct{ Value *bool }

type attributeString struct{ Value string }

type modifyInstanceAttributeInput struct {
	InstanceId                        string
	Attribute                         string
	Value                             string
	DisableApiTermination             *attributeBool
	InstanceType                      *attributeString
	InstanceInitiatedShutdownBehavior *attributeString
	UserData                          *struct{ Value []byte }
	Groups                            []string
	DryRun                            bool
}

type modifyInstanceAttributeOutput struct{}

// ModifyInstanceAttribute changes one attribute: the type and user data
// only while the instance is stopped, as on EC2; the rest at any time, the
// security groups taking effect on the running sandbox's firewall at once.
func (e *EC2) modifyInstanceAttribute(ctx context.Context, in *modifyInstanceAttributeInput) (*modifyInstanceAttributeOutput, error) {
	if in.InstanceId == "" {
		return nil, awserr.Missing("InstanceId")
	}
	if err := validInstanceIDs([]string{in.InstanceId}); err != nil {
		return nil, err
	}
	// The Attribute/Value form names the attribute instead of filling its
	// member.
	switch in.Attribute {
	case "":
	case "instanceType":
		in.InstanceType = &attributeString{Value: in.Value}
	case "instanceInitiatedShutdownBehavior":
		in.InstanceInitiatedShutdownBehavior = &attributeString{Value: in.Value}
	case "disableApiTermination":
		v := strings.EqualFold(in.Value, "true")
		in.DisableApiTermination = &attributeBool{Value: &v}
	case "userData":
		in.UserData = &struct{ Value []byte }{Value: []byte(in.Value)}
	default:
		return nil, invalidParameter("Modifying the attribute '%s' is not supported by nimbus.", in.Attribute)
	}
	account, reg := partition(ctx)
	var itype instanceTypeInfo
	if in.InstanceType != nil {
		var ok bool
		if itype, ok = lookupInstanceType(in.InstanceType.Value); !ok {
			return nil, invalidParameter("Invalid value '%s' for InstanceType.", in.InstanceType.Value)
		}
	}
	if b := in.InstanceInitiatedShutdownBehavior; b != nil && b.Value != "stop" && b.Value != "terminate" {
		return nil, invalidParameter("Value (%s) for parameter instanceInitiatedShutdownBehavior is invalid. Valid values are stop and terminate.", b.Value)
	}
	if in.UserData != nil && len(in.UserData.Value) > maxUserData {
		return nil, invalidParameter("User data is limited to %d bytes", maxUserData)
	}
	var groups []groupIdentifier
	if len(in.Groups) > 0 {
		var err error
		// The groups must be of the instance's VPC; an unknown instance is
		// reported by changeStates below.
		vpcID, subnetID := defaultVPCID(account, reg), ""
		err = e.store.View(ctx, func(tx store.Tx) error {
			found, _, _, err := getInstances(tx, account, reg, []string{in.InstanceId})
			if err == nil && len(found) == 1 && found[0].VpcId != "" {
				vpcID, subnetID = found[0].VpcId, found[0].SubnetId
			}
			return err
		})
		if err != nil {
			return nil, awserr.Internalf(err, "read instance")
		}
		if groups, err = e.resolveGroups(ctx, account, reg, vpcID, subnetID, in.Groups, nil); err != nil {
			return nil, err
		}
	}
	if in.InstanceType == nil && in.InstanceInitiatedShutdownBehavior == nil && in.DisableApiTermination == nil &&
		in.UserData == nil && len(in.Groups) == 0 {
		return nil, awserr.Missing("Attribute")
	}
	changes, err := e.changeStates(ctx, []string{in.InstanceId}, in.DryRun, func(inst *instance, now time.Time) (string, error) {
		if inst.State == stateTerminated || inst.State == stateShuttingDown {
			return "", incorrectState(inst.InstanceId, inst.State, "modified")
		}
		if (in.InstanceType != nil || in.UserData != nil) && inst.State != stateStopped {
			return "", awserr.New(awserr.Conflict, "IncorrectInstanceState",
				"The instance '%s' is not in the 'stopped' state.", inst.InstanceId)
		}
		if in.InstanceType != nil {
			inst.InstanceType, inst.VCPUs, inst.MemoryMiB, inst.GPUs = itype.Name, itype.VCPUs, itype.MemoryMiB, itype.GPUs
			inst.CoreCount, inst.ThreadsPerCore = itype.Cores, itype.ThreadsPerCore
		}
		if in.UserData != nil {
			inst.UserData = base64.StdEncoding.EncodeToString(in.UserData.Value)
		}
		if b := in.InstanceInitiatedShutdownBehavior; b != nil {
			inst.ShutdownBehavior = b.Value
		}
		if d := in.DisableApiTermination; d != nil && d.Value != nil {
			inst.DisableApiTermination = *d.Value
		}
		if groups != nil {
			inst.SecurityGroups = groups
		}
		return "", nil
	})
	if err != nil {
		return nil, err
	}
	if groups != nil && len(changes) == 1 {
		// Membership changed: this instance's firewall, and those of
		// instances whose rules name its old or new groups.
		e.reapplyFirewalls(ctx, account, reg, "")
	}
	return &modifyInstanceAttributeOutput{}, nil
}

type describeInstanceAttributeInput struct {
	InstanceId string
	Attribute  string
	DryRun     bool
}

type boolValue struct{ Value bool }

type stringValue struct{ Value string }

type describeInstanceAttributeOutput struct {
	InstanceId                        string
	InstanceType                      *stringValue      `json:",omitempty"`
	UserData                          *stringValue      `json:",omitempty"`
	DisableApiTermination             *boolValue        `json:",omitempty"`
	DisableApiStop                    *boolValue        `json:",omitempty"`
	InstanceInitiatedShutdownBehavior *stringValue      `json:",omitempty"`
	RootDeviceName                    *stringValue      `json:",omitempty"`
	Groups                            []groupIdentifier `json:",omitempty"`
	BlockDeviceMappings               []blockDeviceView `json:",omitempty"`
	SourceDestCheck                   *boolValue        `json:",omitempty"`
	EbsOptimized                      *boolValue        `json:",omitempty"`
	EnaSupport                        *boolValue        `json:",omitempty"`
}

func (e *EC2) describeInstanceAttribute(ctx context.Context, in *describeInstanceAttributeInput) (*describeInstanceAttributeOutput, error) {
	if in.InstanceId == "" {
		return nil, awserr.Missing("InstanceId")
	}
	if in.Attribute == "" {
		return nil, awserr.Missing("Attribute")
	}
	if in.DryRun {
		return nil, dryRun()
	}
	account, reg := partition(ctx)
	found, err := e.chooseInstances(ctx, account, reg, []string{in.InstanceId})
	if err != nil {
		return nil, err
	}
	inst := found[0]
	out := &describeInstanceAttributeOutput{InstanceId: inst.InstanceId}
	switch in.Attribute {
	case "instanceType":
		out.InstanceType = &stringValue{inst.InstanceType}
	case "userData":
		out.UserData = &stringValue{inst.UserData}
	case "disableApiTermination":
		out.DisableApiTermination = &boolValue{inst.DisableApiTermination}
	case "disableApiStop":
		out.DisableApiStop = &boolValue{false}
	case "instanceInitiatedShutdownBehavior":
		out.InstanceInitiatedShutdownBehavior = &stringValue{inst.ShutdownBehavior}
	case "rootDeviceName":
		out.RootDeviceName = &stringValue{inst.RootDevice}
	case "groupSet":
		out.Groups = append([]groupIdentifier{}, inst.SecurityGroups...)
	case "blockDeviceMapping":
		out.BlockDeviceMappings = inst.view().BlockDeviceMappings
	case "sourceDestCheck":
		out.SourceDestCheck = &boolValue{true}
	case "ebsOptimized":
		out.EbsOptimized = &boolValue{false}
	case "enaSupport":
		out.EnaSupport = &boolValue{true}
	default:
		return nil, invalidParameter("Value (%s) for parameter attribute is invalid. Unknown attribute.", in.Attribute)
	}
	return out, nil
}
