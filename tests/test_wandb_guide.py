"""The snippets of W&B's "Log models" guide (docs.wandb.ai/guides/track/log/log-models), of its
model-registry pages and of "Link an artifact version to a registry", each run as its own Python
process with `import mvc as wandb` in place of `import wandb`.  The only other changes: the
`<...>` placeholders the guide says to replace get values, and file paths point into the test's
folder.  (The guide's Keras example also builds a Keras model; TensorFlow is not a dependency, so
that example's model.save() is replaced by writing the file, and every wandb line is kept.)"""
from __future__ import annotations

import os
import subprocess
import sys
import textwrap

import mvc


def run_snippet(project, code: str, **values) -> subprocess.CompletedProcess:
    code = textwrap.dedent(code).replace("import wandb\n", "import mvc as wandb\n", 1)
    for placeholder, value in values.items():
        code = code.replace(placeholder, value)
    assert "import mvc as wandb" in code and "<" not in code.replace("<=", ""), code
    env = dict(os.environ, MVC_SERVER="0")
    env.pop("MVC_PROJECT", None)  # the snippets name their projects
    res = subprocess.run([sys.executable, "-c", code], cwd=str(project), env=env, capture_output=True, text=True,
                         timeout=120)
    assert res.returncode == 0, res.stderr
    return res


LOG_A_MODEL = """
import wandb

# Initialize a W&B run
run = wandb.init(project="<your-project>", entity="<your-entity>")

# Log the model
run.log_model(path="<path-to-model>", name="<name>")
"""

USE_A_MODEL = """
import wandb

# Initialize a run
run = wandb.init(project="<your-project>", entity="<your-entity>")

# Access and download model. Returns path to downloaded artifact
downloaded_model_path = run.use_model(name="<your-model-name>")
print(downloaded_model_path)
"""

USE_EXAMPLE = """
import wandb

entity = "luka"
project = "NLP_Experiments"
alias = "latest"  # semantic nickname or identifier for the model version
model_artifact_name = "fine-tuned-model"

# Initialize a run
run = wandb.init(project=project, entity=entity)
# Access and download model. Returns path to downloaded artifact
downloaded_model_path = run.use_model(name = f"{model_artifact_name}:{alias}") 
print(downloaded_model_path)
"""

LINK_A_MODEL = """
import wandb

run = wandb.init(entity="<your-entity>", project="<your-project>")
run.link_model(path="<path-to-model>", registered_model_name="<registered-model-name>")
run.finish()
"""

LINK_EXAMPLE = """
import wandb

path = "/local/dir/model.pt"
registered_model_name = "Fine-Tuned-Review-Autocompletion"

run = wandb.init(project="llm-evaluation", entity="noa")
run.link_model(path=path, registered_model_name=registered_model_name)
run.finish()
"""

KERAS_EXAMPLE_WANDB_LINES = """
import os
import wandb

config = {"optimizer": "adam", "loss": "categorical_crossentropy"}

# Initialize a W&B run
run = wandb.init(entity="charlie", project="mnist-experiments", config=config)

# Hyperparameters
loss = run.config["loss"]
optimizer = run.config["optimizer"]
metrics = ["accuracy"]
num_classes = 10
input_shape = (28, 28, 1)

# Save model
model_filename = "model.h5"
local_filepath = "./"
full_path = os.path.join(local_filepath, model_filename)
open(full_path, "wb").write(b"keras model bytes for " + optimizer.encode())

# Log the model to the W&B run
run.log_model(path=full_path, name="MNIST")
run.finish()
"""

REGISTRY_QUICKSTART = """
import wandb
import random

# Start a new W&B run
run = wandb.init(project="models_quickstart")

# Simulate logging model metrics
run.log({"acc": random.random()})

# Create a simulated model file
with open("my_model.h5", "w") as f:
    f.write("Model: " + str(random.random()))

# Log and link the model to the Model Registry
run.link_model(path="./my_model.h5", registered_model_name="MNIST")

run.finish()
"""

LINK_TO_A_REGISTRY = """
import wandb

# Initialize a run
run = wandb.init(
  entity = "<team_entity>",
  project = "<project_name>"
)

# Create an artifact object
# The type parameter specifies both the type of the 
# artifact object and the collection type
artifact = wandb.Artifact(name = "<name>", type = "<type>")

# Add the file to the artifact object. 
# Specify the path to the file on your local machine.
artifact.add_file(local_path = "<local_path_to_artifact>")

# Specify the collection and registry to link the artifact to
REGISTRY_NAME = "<registry_name>"  
COLLECTION_NAME = "<collection_name>"
target_path=f"wandb-registry-{REGISTRY_NAME}/{COLLECTION_NAME}"

# Link the artifact to the collection
run.link_artifact(artifact = artifact, target_path = target_path)
"""


def test_log_and_use_a_model(project):
    weights = project / "weights.safetensors"
    weights.write_bytes(os.urandom(20_000))
    run_snippet(project, LOG_A_MODEL, **{"<your-project>": "nlp", "<your-entity>": "luka",
                                         "<path-to-model>": str(weights), "<name>": "fine-tuned-model"})
    res = run_snippet(project, USE_A_MODEL, **{"<your-project>": "nlp", "<your-entity>": "luka",
                                               "<your-model-name>": "fine-tuned-model"})
    got = res.stdout.strip()
    assert os.path.basename(got) == "weights.safetensors" and open(got, "rb").read() == weights.read_bytes()
    api = mvc.Api(project="nlp")
    (art,) = api.artifacts("model", "luka/nlp/fine-tuned-model")
    (producer,) = art.loggers()
    assert producer.entity == "luka" and producer.state == "finished"  # finished at interpreter exit
    assert [r.state for r in art.used_by()] == ["finished"]


def test_use_example_with_alias(project):
    weights = project / "ft.bin"
    weights.write_bytes(os.urandom(5000))
    run_snippet(project, LOG_A_MODEL, **{"<your-project>": "NLP_Experiments", "<your-entity>": "luka",
                                         "<path-to-model>": str(weights), "<name>": "fine-tuned-model"})
    res = run_snippet(project, USE_EXAMPLE)
    assert open(res.stdout.strip(), "rb").read() == weights.read_bytes()


def test_keras_example_logs_mnist(project):
    run_snippet(project, KERAS_EXAMPLE_WANDB_LINES)
    art = mvc.Api(project="mnist-experiments").artifact("charlie/mnist-experiments/MNIST:latest")
    assert [f.path for f in art.files()] == ["model.h5"] and art.type == "model"
    assert art.logged_by().config == {"optimizer": "adam", "loss": "categorical_crossentropy"}


def test_link_a_model_and_link_example(project):
    model = project / "model.pt"
    model.write_bytes(os.urandom(3000))
    run_snippet(project, LINK_A_MODEL, **{"<your-entity>": "noa", "<your-project>": "llm-evaluation",
                                          "<path-to-model>": str(model), "<registered-model-name>": "Reviews"})
    run_snippet(project, LINK_EXAMPLE.replace("/local/dir/model.pt", str(model)))
    api = mvc.Api(project="llm-evaluation")
    assert [li.address for li in api.registered_model("Reviews").links()] == ["registry/Reviews:v0"]
    (link,) = api.registered_model("Fine-Tuned-Review-Autocompletion").links()
    assert link.address == "registry/Fine-Tuned-Review-Autocompletion:v0"
    assert link.artifact().digest == api.artifact("registry/Reviews").digest  # same bytes, one version
    assert link.logged_by().entity == "noa"


def test_registry_quickstart(project):
    run_snippet(project, REGISTRY_QUICKSTART)
    api = mvc.Api(project="models_quickstart")
    art = api.artifact("wandb-registry-model/MNIST")
    assert [f.path for f in art.files()] == ["my_model.h5"]
    assert 0 <= art.logged_by().summary["acc"] <= 1


def test_link_an_artifact_version_to_a_registry(project):
    src = project / "classifier.onnx"
    src.write_bytes(os.urandom(4000))
    run_snippet(project, LINK_TO_A_REGISTRY, **{"<team_entity>": "team-awesome", "<project_name>": "vision",
                                                "<name>": "classifier", "<type>": "model",
                                                "<local_path_to_artifact>": str(src), "<registry_name>": "model",
                                                "<collection_name>": "image-classifiers"})
    api = mvc.Api(project="vision")
    art = api.artifact("wandb-registry-model/image-classifiers:v0")
    assert art.source_name == "classifier:v0" and art.entity == "team-awesome"
    assert art.file(root=str(project / "o")).endswith("classifier.onnx")
    assert (project / "o" / "classifier.onnx").read_bytes() == src.read_bytes()


def test_readme_wandb_snippet_runs(project):
    """README.md, "Coming from W&B": the snippet as printed, with its two input paths present."""
    import pathlib
    readme = (pathlib.Path(__file__).parent.parent / "README.md").read_text()
    block = readme[readme.index("### Coming from W&B"):]
    start = block.index("```python\n") + len("```python\n")
    code = block[start:block.index("```\n", start)]
    (project / "model.onnx").write_bytes(os.urandom(1000))
    (project / "tokenizer").mkdir()
    (project / "tokenizer" / "vocab.txt").write_text("a b")
    res = run_snippet(project, code)
    assert "classifier:v0 ['labels.txt', 'model.onnx', 'tokenizer/vocab.txt']" in res.stdout
    art = mvc.Api().artifact("wandb-registry-model/classifiers")
    assert art.source_name == "classifier:v0" and art.metadata == {"top1": 0.81}


def test_readme_python_snippet_runs(project):
    """README.md, "Python": the snippet as printed, with model.h5 present; the eval run uses
    MNIST:v0 and links it, and lineage has no cycle (it once re-logged what it used)."""
    import pathlib
    readme = (pathlib.Path(__file__).parent.parent / "README.md").read_text()
    block = readme[readme.index("## Python"):]
    start = block.index("```python\n") + len("```python\n")
    code = block[start:block.index("```\n", start)]
    (project / "model.h5").write_bytes(os.urandom(2000))
    env = dict(os.environ)
    env.pop("MVC_PROJECT", None)
    res = subprocess.run([sys.executable, "-c", code], cwd=str(project), env=env, capture_output=True, text=True,
                         timeout=120)
    assert res.returncode == 0, res.stderr
    assert "v0 ['best', 'latest']" in res.stdout
    assert "registry/MNIST-prod:v0 -> mnist-experiments/MNIST:v0" in res.stdout
    v = mvc.Api(project="mnist-experiments").artifact("MNIST:v0")
    makers, users = {r.id for r in v.loggers()}, {r.id for r in v.used_by()}
    assert len(makers) == 1 and len(users) == 1 and not makers & users
    assert sorted(v.aliases) == ["best", "latest"]
