package ec2

import (
	"context"
	"crypto/ed25519"
	"crypto/md5"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha1"
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"encoding/pem"
	"errors"
	"fmt"
	"strings"
	"time"

	"golang.org/x/crypto/ssh"

	"github.com/nimbus-dev/nimbus/internal/awserr"
	"github.com/nimbus-dev/nimbus/internal/service"
	"github.com/nimbus-dev/nimbus/internal/store"
)

const kindKeyPair = "ec2:keypair"

func (e *EC2) registerKeyPairs(svc *service.Service) {
	e.kinds = append(e.kinds, kindKeyPair)
	svc.Handle("CreateKeyPair", service.Op(e.createKeyPair))
	svc.Handle("ImportKeyPair", service.Op(e.importKeyPair))
	svc.Handle("DescribeKeyPairs", service.Op(e.describeKeyPairs))
	svc.Handle("DeleteKeyPair", service.Op(e.deleteKeyPair))
}

// keyPair is a stored key pair. Only the public half is kept: CreateKeyPair
// returns the private key once, as AWS does.
type keyPair struct {
	KeyPairId      string
	KeyName        string
	KeyType        string // rsa or ed25519
	KeyFingerprint string
	PublicKey      string // OpenSSH authorized_keys line
	CreateTime     time.Time
	Tags           []Tag
}

// StoreIndexes lets key pairs be found by ID as well as by name.
func (k *keyPair) StoreIndexes() []store.IndexValue {
	return []store.IndexValue{{Name: "key-pair-id", Value: k.KeyPairId, Unique: true}}
}

// PublicKeyOf returns the authorized_keys line of a key pair, for instances
// launched with KeyName.
func PublicKeyOf(ctx context.Context, st store.Store, account, region, name string) (string, error) {
	var k keyPair
	err := st.View(ctx, func(tx store.Tx) error {
		_, err := tx.Get(store.Key{Account: account, Region: region, Kind: kindKeyPair, ID: name}, &k)
		return err
	})
	if errors.Is(err, store.ErrNotFound) {
		return "", keyPairNotFound(name)
	}
	return k.PublicKey, err
}

func keyPairNotFound(name string) error {
	return awserr.New(awserr.NotFound, "InvalidKeyPair.NotFound", "The key pair '%s' does not exist", name)
}

func validKeyName(name string) error {
	if name == "" {
		return awserr.Missing("KeyName")
	}
	if len(name) > 255 {
		return invalidParameter("Value (%s) for parameter keyName is invalid. Length exceeds maximum of 255.", name)
	}
	for _, r := range name {
		if r < 0x20 || r > 0x7e {
			return invalidParameter("Value (%s) for parameter keyName is invalid. Character sets beyond ASCII are not supported.", name)
		}
	}
	return nil
}

type createKeyPairInput struct {
	KeyName           string
	KeyType           string
	KeyFormat         string
	TagSpecifications []TagSpecification
	DryRun            bool
}

type createKeyPairOutput struct {
	KeyFingerprint string
	KeyMaterial    string
	KeyName        string
	KeyPairId      string
	Tags           []Tag `json:",omitempty"`
}

func (e *EC2) createKeyPair(ctx context.Context, in *createKeyPairInput) (*createKeyPairOutput, error) {
	if err := validKeyName(in.KeyName); err != nil {
		return nil, err
	}
	tags, err := tagsFor(in.TagSpecifications, "key-pair")
	if err != nil {
		return nil, err
	}
	if in.KeyFormat != "" && in.KeyFormat != "pem" {
		return nil, invalidParameter("Key format '%s' is not supported by nimbus; use pem.", in.KeyFormat)
	}
	if in.DryRun {
		return nil, dryRun()
	}
	k := &keyPair{KeyPairId: newID("key"), KeyName: in.KeyName, CreateTime: time.Now().UTC().Truncate(time.Second), Tags: tags}
	var material string
	switch in.KeyType {
	case "", "rsa":
		k.KeyType = "rsa"
		priv, err := rsa.GenerateKey(rand.Reader, 2048)
		if err != nil {
			return nil, awserr.Internalf(err, "generate rsa key")
		}
		der := x509.MarshalPKCS1PrivateKey(priv)
		material = string(pem.EncodeToMemory(&pem.Block{Type: "RSA PRIVATE KEY", Bytes: der}))
		// AWS fingerprints a key it created by the SHA-1 of the PKCS#8 DER private key.
		p8, err := x509.MarshalPKCS8PrivateKey(priv)
		if err != nil {
			return nil, awserr.Internalf(err, "marshal rsa key")
		}
		k.KeyFingerprint = colonHex(sha1Sum(p8))
		pub, err := ssh.NewPublicKey(&priv.PublicKey)
		if err != nil {
			return nil, awserr.Internalf(err, "rsa public key")
		}
		k.PublicKey = authorizedKey(pub, in.KeyName)
	case "ed25519":
		k.KeyType = "ed25519"
		pubKey, priv, err := ed25519.GenerateKey(rand.Reader)
		if err != nil {
			return nil, awserr.Internalf(err, "generate ed25519 key")
		}
		block, err := ssh.MarshalPrivateKey(priv, "")
		if err != nil {
			return nil, awserr.Internalf(err, "marshal ed25519 key")
		}
		material = string(pem.EncodeToMemory(block))
		pub, err := ssh.NewPublicKey(pubKey)
		if err != nil {
			return nil, awserr.Internalf(err, "ed25519 public key")
		}
		k.KeyFingerprint = sha256Fingerprint(pub)
		k.PublicKey = authorizedKey(pub, in.KeyName)
	default:
		return nil, invalidParameter("Value (%s) for parameter keyType is invalid. Valid values are rsa and ed25519.", in.KeyType)
	}
	if err := e.putNewKeyPair(ctx, k); err != nil {
		return nil, err
	}
	return &createKeyPairOutput{KeyFingerprint: k.KeyFingerprint, KeyMaterial: strings.TrimRight(material, "\n"),
		KeyName: k.KeyName, KeyPairId: k.KeyPairId, Tags: tags}, nil
}

func (e *EC2) putNewKeyPair(ctx context.Context, k *keyPair) error {
	account, region := partition(ctx)
	err := e.store.Update(ctx, func(tx store.Tx) error {
		_, err := tx.Create(store.Key{Account: account, Region: region, Kind: kindKeyPair, ID: k.KeyName}, k)
		return err
	})
	if errors.Is(err, store.ErrAlreadyExists) {
		return awserr.New(awserr.AlreadyExists, "InvalidKeyPair.Duplicate", "The keypair '%s' already exists.", k.KeyName)
	}
	if err != nil {
		return awserr.Internalf(err, "store key pair")
	}
	return nil
}

type importKeyPairInput struct {
	KeyName           string
	PublicKeyMaterial []byte
	TagSpecifications []TagSpecification
	DryRun            bool
}

type importKeyPairOutput struct {
	KeyFingerprint string
	KeyName        string
	KeyPairId      string
	Tags           []Tag `json:",omitempty"`
}

func (e *EC2) importKeyPair(ctx context.Context, in *importKeyPairInput) (*importKeyPairOutput, error) {
	if err := validKeyName(in.KeyName); err != nil {
		return nil, err
	}
	if len(in.PublicKeyMaterial) == 0 {
		return nil, awserr.Missing("PublicKeyMaterial")
	}
	tags, err := tagsFor(in.TagSpecifications, "key-pair")
	if err != nil {
		return nil, err
	}
	pub, _, _, _, err := ssh.ParseAuthorizedKey(in.PublicKeyMaterial)
	if err != nil {
		return nil, awserr.New(awserr.Validation, "InvalidKey.Format", "Key is not in valid OpenSSH public key format")
	}
	if in.DryRun {
		return nil, dryRun()
	}
	k := &keyPair{KeyPairId: newID("key"), KeyName: in.KeyName, CreateTime: time.Now().UTC().Truncate(time.Second),
		Tags: tags, PublicKey: authorizedKey(pub, in.KeyName)}
	switch pub.Type() {
	case ssh.KeyAlgoRSA:
		k.KeyType = "rsa"
		// AWS fingerprints an imported RSA key by the MD5 of its DER public key.
		cpk, ok := pub.(ssh.CryptoPublicKey)
		if !ok {
			return nil, awserr.New(awserr.Validation, "InvalidKey.Format", "Key is not in valid OpenSSH public key format")
		}
		der, err := x509.MarshalPKIXPublicKey(cpk.CryptoPublicKey())
		if err != nil {
			return nil, awserr.New(awserr.Validation, "InvalidKey.Format", "Key is not in valid OpenSSH public key format")
		}
		sum := md5.Sum(der)
		k.KeyFingerprint = colonHex(sum[:])
	case ssh.KeyAlgoED25519:
		k.KeyType = "ed25519"
		k.KeyFingerprint = sha256Fingerprint(pub)
	default:
		return nil, invalidParameter("The key type '%s' is not supported. Supported key types are ssh-rsa and ssh-ed25519.", pub.Type())
	}
	if err := e.putNewKeyPair(ctx, k); err != nil {
		return nil, err
	}
	return &importKeyPairOutput{KeyFingerprint: k.KeyFingerprint, KeyName: k.KeyName, KeyPairId: k.KeyPairId, Tags: tags}, nil
}

type describeKeyPairsInput struct {
	KeyNames         []string
	KeyPairIds       []string
	Filters          []Filter
	IncludePublicKey bool
	DryRun           bool
}

type keyPairInfo struct {
	KeyPairId      string
	KeyFingerprint string
	KeyName        string
	KeyType        string
	Tags           []Tag
	PublicKey      string `json:",omitempty"`
	CreateTime     time.Time
}

type describeKeyPairsOutput struct {
	KeyPairs []keyPairInfo
}

func (e *EC2) describeKeyPairs(ctx context.Context, in *describeKeyPairsInput) (*describeKeyPairsOutput, error) {
	if in.DryRun {
		return nil, dryRun()
	}
	account, region := partition(ctx)
	var all []keyPair
	err := e.store.View(ctx, func(tx store.Tx) error {
		return tx.List(store.Query{Kind: kindKeyPair, Account: account, Region: region}, func(o store.Object) error {
			var k keyPair
			if err := o.Decode(&k); err != nil {
				return err
			}
			all = append(all, k)
			return nil
		})
	})
	if err != nil {
		return nil, awserr.Internalf(err, "list key pairs")
	}
	byName := map[string]bool{}
	byID := map[string]bool{}
	for _, k := range all {
		byName[k.KeyName], byID[k.KeyPairId] = true, true
	}
	for _, n := range in.KeyNames {
		if !byName[n] {
			return nil, keyPairNotFound(n)
		}
	}
	for _, id := range in.KeyPairIds {
		if !byID[id] {
			return nil, awserr.New(awserr.NotFound, "InvalidKeyPair.NotFound", "The key pair ID '%s' does not exist", id)
		}
	}
	out := &describeKeyPairsOutput{KeyPairs: []keyPairInfo{}}
	for _, k := range all {
		if len(in.KeyNames) > 0 && !matchAny(in.KeyNames, k.KeyName) {
			continue
		}
		if len(in.KeyPairIds) > 0 && !matchAny(in.KeyPairIds, k.KeyPairId) {
			continue
		}
		ok, err := matchFilters(in.Filters, func(name string) ([]string, bool) {
			switch name {
			case "key-name":
				return []string{k.KeyName}, true
			case "key-pair-id":
				return []string{k.KeyPairId}, true
			case "fingerprint":
				return []string{k.KeyFingerprint}, true
			case "key-type":
				return []string{k.KeyType}, true
			}
			return nil, false
		}, k.Tags)
		if err != nil {
			return nil, err
		}
		if !ok {
			continue
		}
		info := keyPairInfo{KeyPairId: k.KeyPairId, KeyFingerprint: k.KeyFingerprint, KeyName: k.KeyName,
			KeyType: k.KeyType, Tags: k.Tags, CreateTime: k.CreateTime}
		if in.IncludePublicKey {
			info.PublicKey = k.PublicKey
		}
		out.KeyPairs = append(out.KeyPairs, info)
	}
	return out, nil
}

type deleteKeyPairInput struct {
	KeyName   string
	KeyPairId string
	DryRun    bool
}

type deleteKeyPairOutput struct {
	Return    bool
	KeyPairId string `json:",omitempty"`
}

func (e *EC2) deleteKeyPair(ctx context.Context, in *deleteKeyPairInput) (*deleteKeyPairOutput, error) {
	if in.KeyName == "" && in.KeyPairId == "" {
		return nil, awserr.Missing("KeyName")
	}
	if in.DryRun {
		return nil, dryRun()
	}
	account, region := partition(ctx)
	var deletedID string
	err := e.store.Update(ctx, func(tx store.Tx) error {
		name := in.KeyName
		if name == "" {
			err := tx.List(store.Query{Kind: kindKeyPair, Account: account, Region: region,
				Index: "key-pair-id", IndexValue: in.KeyPairId}, func(o store.Object) error {
				name = o.Key.ID
				return nil
			})
			if err != nil {
				return err
			}
			if name == "" {
				return awserr.New(awserr.NotFound, "InvalidKeyPair.NotFound", "The key pair ID '%s' does not exist", in.KeyPairId)
			}
		}
		key := store.Key{Account: account, Region: region, Kind: kindKeyPair, ID: name}
		var k keyPair
		if _, err := tx.Get(key, &k); err != nil {
			// Deleting a key name that does not exist succeeds, as on AWS.
			if errors.Is(err, store.ErrNotFound) {
				return nil
			}
			return err
		}
		deletedID = k.KeyPairId
		return tx.Delete(key, 0)
	})
	if err != nil {
		var ae *awserr.Error
		if errors.As(err, &ae) {
			return nil, ae
		}
		return nil, awserr.Internalf(err, "delete key pair")
	}
	return &deleteKeyPairOutput{Return: true, KeyPairId: deletedID}, nil
}

func authorizedKey(pub ssh.PublicKey, comment string) string {
	return strings.TrimSpace(string(ssh.MarshalAuthorizedKey(pub))) + " " + comment
}

func sha256Fingerprint(pub ssh.PublicKey) string {
	sum := sha256.Sum256(pub.Marshal())
	return base64.StdEncoding.EncodeToString(sum[:])
}

func sha1Sum(b []byte) []byte {
	s := sha1.Sum(b)
	return s[:]
}

func colonHex(b []byte) string {
	parts := make([]string, len(b))
	for i, c := range b {
		parts[i] = fmt.Sprintf("%02x", c)
	}
	return strings.Join(parts, ":")
}
