"""Object detectors behind one interface: ``detect(rgb array) -> [Detection]`` above a strict threshold.

- ``opencv`` (default, offline): the detectors OpenCV 4.x ships. ``face``: the frontal alt2 cascade
  confirmed by the default frontal cascade around each hit (the two disagree on most false
  positives), plus
  profile faces (both directions) with many neighbours; ``cat``: the extended cat-face cascade;
  ``person``: HOG + the default people SVM.
- ``hf:<model name or local path>``: any Hugging Face object detector through transformers.
  Open-vocabulary models (OWL-ViT/OWLv2, Grounding DINO) are queried with ``labels``; closed-set
  ones (DETR, ...) use their own ``id2label``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Protocol

import numpy as np

DEFAULT_QUERIES = ("person", "face", "car", "dog", "cat", "bird", "chair", "bottle", "cup", "book", "flower",
                   "tree", "boat", "horse", "sheep", "cow", "apple", "orange", "window", "coin")


Box = tuple[float, float, float, float]  # x0, y0, x1, y1 in image pixels


@dataclass(frozen=True)
class Detection:
    label: str
    score: float
    box: Box

    @property
    def center(self) -> tuple[float, float]:
        x0, y0, x1, y1 = self.box
        return (x0 + x1) / 2, (y0 + y1) / 2


class Detector(Protocol):
    name: str
    labels: tuple[str, ...]

    def detect(self, image: np.ndarray) -> list[Detection]: ...


def iou(a: tuple[float, ...], b: tuple[float, ...]) -> float:
    ix = max(0.0, min(a[2], b[2]) - max(a[0], b[0]))
    iy = max(0.0, min(a[3], b[3]) - max(a[1], b[1]))
    inter = ix * iy
    union = (a[2] - a[0]) * (a[3] - a[1]) + (b[2] - b[0]) * (b[3] - b[1]) - inter
    return inter / union if union > 0 else 0.0


def dedupe(dets: list[Detection], thr: float = 0.3) -> list[Detection]:
    """Greedy non-maximum suppression per label."""
    keep: list[Detection] = []
    for d in sorted(dets, key=lambda d: -d.score):
        if all(k.label != d.label or iou(k.box, d.box) < thr for k in keep):
            keep.append(d)
    return keep


@dataclass(frozen=True)
class OpenCVConfig:
    max_side: int = 640  # images are scaled down to this before detection (boxes scaled back)
    min_face: float = 0.04  # smallest object side, as a fraction of the shorter image side
    face_neighbors: int = 4
    profile_neighbors: int = 8
    cat_neighbors: int = 3
    person_weight: float = 1.0  # HOG SVM margin; ~0.8 still fires on rockets and logos

    def __post_init__(self) -> None:
        if self.max_side < 64 or not 0 < self.min_face < 1:
            raise ValueError(f"need max_side >= 64 and 0 < min_face < 1, got {self.max_side}, {self.min_face}")
        if min(self.face_neighbors, self.profile_neighbors, self.cat_neighbors) < 1:
            raise ValueError("cascade neighbour counts must be at least 1")


class OpenCVDetector:
    name = "opencv"
    labels: tuple[str, ...] = ("face", "cat", "person")

    def __init__(self, cfg: OpenCVConfig | None = None):
        import cv2
        from cv2.data import haarcascades

        cv2.setNumThreads(1)
        self.cv2, self.cfg = cv2, cfg or OpenCVConfig()
        base = haarcascades
        self.cascades = {k: cv2.CascadeClassifier(base + f) for k, f in (
            ("frontal", "haarcascade_frontalface_default.xml"), ("alt2", "haarcascade_frontalface_alt2.xml"),
            ("profile", "haarcascade_profileface.xml"), ("cat", "haarcascade_frontalcatface_extended.xml"))}
        for k, c in self.cascades.items():
            if c.empty():
                raise RuntimeError(f"OpenCV cascade {k!r} is missing: install opencv-python-headless<5")
        self.hog = cv2.HOGDescriptor()
        self.hog.setSVMDetector(np.asarray(cv2.HOGDescriptor.getDefaultPeopleDetector(), dtype=np.float32))

    def _cascade(self, name: str, gray: np.ndarray, neighbors: int, scale: float = 1.1,
                 side: int = 0) -> list[tuple[Box, float]]:
        side = side or max(20, int(min(gray.shape) * self.cfg.min_face))
        boxes, _, weights = self.cascades[name].detectMultiScale3(
            gray, scaleFactor=scale, minNeighbors=neighbors, minSize=(side, side), outputRejectLevels=True)
        return [((float(x), float(y), float(x + w), float(y + h)), float(s))
                for (x, y, w, h), s in zip(boxes, np.ravel(weights), strict=True)]

    def _confirmed(self, gray: np.ndarray, box: Box) -> bool:
        """Does the default frontal cascade also see a face in a window around ``box``?"""
        x0, y0, x1, y1 = box
        m = 0.3 * (x1 - x0)
        xa, ya = int(max(0, x0 - m)), int(max(0, y0 - m))
        roi = gray[ya:int(min(gray.shape[0], y1 + m)), xa:int(min(gray.shape[1], x1 + m))]
        found = self._cascade("frontal", roi, self.cfg.face_neighbors, side=max(20, int(0.6 * (x1 - x0))))
        return any(iou(box, (fx0 + xa, fy0 + ya, fx1 + xa, fy1 + ya)) > 0.4 for (fx0, fy0, fx1, fy1), _ in found)

    def detect(self, image: np.ndarray) -> list[Detection]:
        cv2 = self.cv2
        scale = min(1.0, self.cfg.max_side / max(image.shape[:2]))
        if scale < 1.0:
            image = cv2.resize(image, None, fx=scale, fy=scale, interpolation=cv2.INTER_AREA)
        gray = cv2.cvtColor(image, cv2.COLOR_RGB2GRAY) if image.ndim == 3 else image
        dets: list[Detection] = []
        for box, s in self._cascade("alt2", gray, self.cfg.face_neighbors):
            if self._confirmed(gray, box):
                dets.append(Detection("face", s, box))
        w = gray.shape[1]
        for flip in (False, True):
            g = gray[:, ::-1].copy() if flip else gray
            for (x0, y0, x1, y1), s in self._cascade("profile", g, self.cfg.profile_neighbors, scale=1.2):
                box = (w - x1, y0, w - x0, y1) if flip else (x0, y0, x1, y1)
                if all(iou(box, d.box) < 0.2 for d in dets):
                    dets.append(Detection("face", s, box))
        dets += [Detection("cat", s, b) for b, s in self._cascade("cat", gray, self.cfg.cat_neighbors) if s >= 0]
        rects, weights = self.hog.detectMultiScale(gray, winStride=(8, 8), padding=(8, 8), scale=1.1)
        for (x, y, rw, rh), s in zip(rects, np.ravel(weights), strict=True):
            if s >= self.cfg.person_weight:
                dets.append(Detection("person", float(s), (float(x), float(y), float(x + rw), float(y + rh))))
        dets = dedupe(dets)
        return [Detection(d.label, d.score, tuple(v / scale for v in d.box)) for d in dets]  # type: ignore[arg-type]


class HFDetector:
    """A transformers object detector by hub name or local path (weights are never downloaded in tests)."""

    def __init__(self, model: str, labels: tuple[str, ...] = DEFAULT_QUERIES, threshold: float = 0.3,
                 device: str = "cpu"):
        import torch
        from transformers import AutoConfig

        self.torch, self.threshold, self.device = torch, threshold, device
        self.name = f"hf:{model}"
        cfg = AutoConfig.from_pretrained(model)
        self.zero_shot = cfg.model_type in ("owlvit", "owlv2", "grounding-dino", "mm-grounding-dino")
        if self.zero_shot:
            from transformers import AutoModelForZeroShotObjectDetection, AutoProcessor

            self.processor = AutoProcessor.from_pretrained(model)
            self.model = AutoModelForZeroShotObjectDetection.from_pretrained(model)
            self.labels = tuple(labels)
        else:
            from transformers import AutoImageProcessor, AutoModelForObjectDetection

            self.processor = AutoImageProcessor.from_pretrained(model)
            self.model = AutoModelForObjectDetection.from_pretrained(model)
            self.labels = tuple(str(v) for v in self.model.config.id2label.values())
        self.model.to(device).eval()

    def _post(self, outputs: Any, size: tuple[int, int], inputs: Any) -> list[dict[str, Any]]:
        target = [size]
        if not self.zero_shot:
            return self.processor.post_process_object_detection(outputs, threshold=self.threshold, target_sizes=target)
        fn = getattr(self.processor, "post_process_grounded_object_detection", None)
        if fn is not None and "input_ids" in inputs and self.model.config.model_type.endswith("grounding-dino"):
            return fn(outputs, inputs["input_ids"], threshold=self.threshold, text_threshold=self.threshold,
                      target_sizes=target, text_labels=[list(self.labels)])
        if fn is not None:
            return fn(outputs, threshold=self.threshold, target_sizes=target, text_labels=[list(self.labels)])
        return self.processor.post_process_object_detection(outputs, threshold=self.threshold, target_sizes=target)

    def detect(self, image: np.ndarray) -> list[Detection]:
        from PIL import Image

        pil = Image.fromarray(image).convert("RGB")
        if self.zero_shot:
            text: Any = [list(self.labels)]
            if self.model.config.model_type.endswith("grounding-dino"):
                text = ". ".join(self.labels) + "."
            inputs = self.processor(images=pil, text=text, return_tensors="pt")
        else:
            inputs = self.processor(images=pil, return_tensors="pt")
        with self.torch.no_grad():
            outputs = self.model(**{k: v.to(self.device) for k, v in inputs.items()})
        res = self._post(outputs, (pil.height, pil.width), inputs)[0]
        out = []
        names = res.get("text_labels") or res["labels"]
        for score, lab, box in zip(res["scores"].tolist(), names, res["boxes"].tolist(), strict=True):
            if isinstance(lab, str):
                label = lab
            elif self.zero_shot:
                label = self.labels[int(lab)]
            else:
                label = str(self.model.config.id2label[int(lab)])
            x0, y0, x1, y1 = (float(v) for v in box)
            out.append(Detection(label, float(score), (max(0.0, x0), max(0.0, y0), min(pil.width, x1), min(pil.height, y1))))
        return dedupe(out, 0.5)


def make_detector(spec: str, *, labels: tuple[str, ...] = DEFAULT_QUERIES, threshold: float = 0.3) -> Detector:
    """``opencv`` or ``hf:<model name or path>``."""
    if spec == "opencv":
        return OpenCVDetector()
    if spec.startswith("hf:") and len(spec) > 3:
        return HFDetector(spec[3:], labels=labels, threshold=threshold)
    raise ValueError(f"unknown detector {spec!r}: use 'opencv' or 'hf:<model name or local path>'")
