"""fusiondp.text: the text modality (sensitive spans, hybrid documents, corpus, text model).

>>> from fusiondp.text import detect_spans
>>> [s.type for s in detect_spans("A 54-year-old woman.")]
['age', 'sex']
"""

from fusiondp.text.corpus import Splits, TextTriples, load_medical_abstracts, make_triples, split_corpus
from fusiondp.text.hybrid import HybridDoc, HybridTextGenerator, privacy_statement
from fusiondp.text.model import TextClassifier, TextFeaturizer, encode_pairs
from fusiondp.text.spans import Rule, Span, SpanDetector, detect_spans, mask_spans

__all__ = ["Span", "Rule", "SpanDetector", "detect_spans", "mask_spans", "HybridTextGenerator", "HybridDoc",
           "privacy_statement",
           "load_medical_abstracts", "split_corpus", "Splits", "TextTriples", "make_triples", "TextFeaturizer",
           "encode_pairs", "TextClassifier"]
