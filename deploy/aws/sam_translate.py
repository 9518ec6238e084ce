"""Turns a SAM template into the plain CloudFormation that AWS would deploy, offline.

    python sam_translate.py TEMPLATE OUTPUT.json

Run with the python of cfn-lint's virtualenv (e2e/aws/tools.sh installs aws-sam-translator
there); deploy/aws/check.sh lints what it writes. Writes the translated template as JSON to
OUTPUT.json and prints its number of resources on stdout.

It needs neither the network nor AWS credentials, and proves it: every socket connection is
refused while it runs. What would need them is stubbed:
  - the region (and so the partition) is us-east-1 unless AWS_REGION or AWS_DEFAULT_REGION says
    otherwise, through a session built here rather than one read from an AWS configuration;
  - the managed-policy loader, which would list IAM's managed policies, answers with no policies:
    the template names its managed policies by full ARN;
  - each function's CodeUri, a local directory that a deploy would upload, becomes a placeholder
    S3 URI in the translated copy only (the template file is not changed).

Exit status: 0 when the template was translated; 1 when it is not a valid SAM template (the
reasons are printed on stderr); 2 on a usage error.
"""

import json
import os
import socket
import sys

PLACEHOLDER_CODE_URI = "s3://gatehouse-placeholder-bucket/bootstrap.zip"


def refuse_network(*_args, **_kwargs):
    raise OSError("sam_translate.py works offline: a network connection was attempted")


def main(argv):
    if len(argv) != 3 or argv[1] in ("-h", "--help"):
        print(__doc__.strip(), file=sys.stderr)
        return 0 if len(argv) == 2 and argv[1] in ("-h", "--help") else 2
    template_path, output_path = argv[1], argv[2]

    # Nothing below may reach the network: no credentials lookup, no instance metadata.
    socket.socket.connect = refuse_network
    socket.socket.connect_ex = refuse_network
    socket.create_connection = refuse_network
    os.environ["AWS_EC2_METADATA_DISABLED"] = "true"
    # No AWS configuration or credentials of this machine's are read, nor needed.
    os.environ.pop("AWS_PROFILE", None)
    os.environ["AWS_CONFIG_FILE"] = os.devnull
    os.environ["AWS_SHARED_CREDENTIALS_FILE"] = os.devnull
    region = os.environ.get("AWS_REGION") or os.environ.get("AWS_DEFAULT_REGION") or "us-east-1"

    import boto3
    from samtranslator.model.exceptions import InvalidDocumentException
    from samtranslator.parser.parser import Parser
    from samtranslator.translator.translator import Translator
    from samtranslator.yaml_helper import yaml_parse

    import yaml

    try:
        with open(template_path, encoding="utf-8") as f:
            template = yaml_parse(f.read())
    except yaml.YAMLError as e:
        print(f"{template_path}: not YAML: {e}", file=sys.stderr)
        return 1
    if not isinstance(template, dict):
        print(f"{template_path}: not a template (a YAML or JSON mapping)", file=sys.stderr)
        return 1

    # The local code directory a deploy would upload, as an S3 object, in this copy only.
    # (What is malformed here is left as it is, for the translator to report.)
    globals_ = template.get("Globals")
    function_globals = globals_.get("Function") if isinstance(globals_, dict) else None
    if isinstance(function_globals, dict) and "CodeUri" in function_globals:
        function_globals["CodeUri"] = PLACEHOLDER_CODE_URI
    resources = template.get("Resources")
    for resource in resources.values() if isinstance(resources, dict) else ():
        if not isinstance(resource, dict) or resource.get("Type") != "AWS::Serverless::Function":
            continue
        properties = resource.get("Properties")
        if isinstance(properties, dict) and "CodeUri" in properties:
            properties["CodeUri"] = PLACEHOLDER_CODE_URI

    session = boto3.session.Session(region_name=region)
    translator = Translator(managed_policy_map=None, sam_parser=Parser(), boto_session=session)
    try:
        translated = translator.translate(
            template, parameter_values={}, get_managed_policy_map=lambda: {}
        )
    except InvalidDocumentException as e:
        for cause in e.causes:
            print(f"{template_path}: {cause.message}", file=sys.stderr)
        return 1

    with open(output_path, "w", encoding="utf-8") as f:
        json.dump(translated, f, indent=2, sort_keys=True)
        f.write("\n")
    print(len(translated.get("Resources", {})))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
